// The gateway side of TokenLedger on an existing API Management service, deployed in its resource group:
// the Event Hubs logger (APIM's system-assigned identity, no connection string), the named value the policy
// fragments send through, and the fragments themselves from gateway/ (gateway/README.md).
// Including the fragments in the Azure OpenAI API's policy is left to the API's owner (infra/README.md).
param apimServiceName string
@description('Fully qualified Event Hubs namespace, <namespace>.servicebus.windows.net.')
param eventHubNamespaceHost string
param eventHubName string
param loggerName string = 'tokenledger-events'

resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = {
  name: apimServiceName
}

resource logger 'Microsoft.ApiManagement/service/loggers@2024-05-01' = {
  parent: apim
  name: loggerName
  properties: {
    loggerType: 'azureEventHub'
    description: 'TokenLedger gateway events'
    credentials: {
      endpointAddress: eventHubNamespaceHost
      identityClientId: 'SystemAssigned'
      name: eventHubName
    }
  }
}

// The fragment sends with logger-id="{{tokenledger-logger-id}}": one fragment file for every environment.
resource loggerIdNamedValue 'Microsoft.ApiManagement/service/namedValues@2024-05-01' = {
  parent: apim
  name: 'tokenledger-logger-id'
  properties: {
    displayName: 'tokenledger-logger-id'
    value: logger.name
    secret: false
  }
}

// Format xml (not rawxml): the files are strict XML and APIM decodes the entities in the C# expressions.
resource logFragment 'Microsoft.ApiManagement/service/policyFragments@2024-05-01' = {
  parent: apim
  name: 'tokenledger-log'
  properties: {
    format: 'xml'
    description: 'TokenLedger gateway event v1 (outbound and on-error)'
    value: loadTextContent('../../gateway/tokenledger-log-policy.xml')
  }
  dependsOn: [loggerIdNamedValue]
}

resource logInboundFragment 'Microsoft.ApiManagement/service/policyFragments@2024-05-01' = {
  parent: apim
  name: 'tokenledger-log-inbound'
  properties: {
    format: 'xml'
    description: 'TokenLedger gateway event v1 (inbound: stream flag, model, backend start)'
    value: loadTextContent('../../gateway/tokenledger-log-inbound-policy.xml')
  }
}

output loggerId string = logger.id
output loggerName string = logger.name
