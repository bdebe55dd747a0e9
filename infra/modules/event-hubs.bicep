// Event Hubs namespace with the gateway events hub and TokenLedger's own consumer group. Local (SAS) auth is
// disabled: APIM sends with its managed identity (Data Sender), the function receives with its own (Data Receiver).
param namespaceName string
param location string
param tags object = {}
param eventHubName string
param consumerGroupName string
@minValue(1)
@maxValue(32)
param partitionCount int = 4
@description('Days an event stays readable: the time the ingest may be down without losing events.')
@minValue(1)
@maxValue(7)
param retentionInDays int = 7

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' = {
  name: namespaceName
  location: location
  tags: tags
  // Standard: consumer groups other than $Default and 7 days of retention need it.
  sku: {
    name: 'Standard'
    tier: 'Standard'
    capacity: 1
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
    isAutoInflateEnabled: false
  }
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' = {
  parent: namespace
  name: eventHubName
  properties: {
    partitionCount: partitionCount
    messageRetentionInDays: retentionInDays
  }
}

resource consumerGroup 'Microsoft.EventHub/namespaces/eventhubs/consumergroups@2024-01-01' = {
  parent: hub
  name: consumerGroupName
  properties: {
    userMetadata: 'TokenLedger ingest function'
  }
}

output namespaceName string = namespace.name
@description('Fully qualified namespace, <namespace>.servicebus.windows.net.')
output namespaceHost string = '${namespace.name}.servicebus.windows.net'
output eventHubName string = hub.name
output eventHubId string = hub.id
output consumerGroupName string = consumerGroup.name
