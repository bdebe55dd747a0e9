// TokenLedger on Azure: `azd up` deploys this template, then the function app (azure.yaml).
// Identity-based everywhere: local (key) auth is disabled on Event Hubs, Cosmos DB, storage, Log Analytics and
// Application Insights; the function app reaches all of them with one user-assigned managed identity.
// Role assignments live in roles.bicep (this resource group) and modules/openai-roles.bicep (Azure OpenAI accounts).
// Runbook: infra/README.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used for the resource group name and the unique resource token.')
param environmentName string

@minLength(1)
@description('Region of every resource. Flex Consumption must be available there.')
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the person or pipeline running the deployment (azd sets AZURE_PRINCIPAL_ID); gets read access to the ledger for verification. Empty: none.')
param principalId string = ''

@description('Name of the existing API Management service in front of Azure OpenAI. Empty: the gateway wiring (logger, named value, policy fragments, Data Sender role) is skipped.')
param apimServiceName string = ''

@description('Resource group of the API Management service (same subscription). Empty: the TokenLedger resource group.')
param apimResourceGroupName string = ''

@description('Resource ids of existing Azure OpenAI (Cognitive Services) accounts, in this subscription or another one of the same tenant, whose RequestResponse logs TokenLedger joins.')
param openAiAccountIds array = []

@description('Also archive the Azure OpenAI RequestResponse logs to the storage account (container insights-logs-requestresponse).')
param archiveDiagnosticsToStorage bool = false

@description('Audience (aud claim) the HTTP APIs accept: the client id of the API app registration. Empty: a placeholder that matches no token until it is set (infra/README.md, "Entra app registration").')
param authAudience string = ''

@description('Client id of the dashboard\'s single-page-app registration; empty: the dashboard takes pasted tokens only (infra/README.md, "Dashboard sign-in").')
param dashboardClientId string = ''

@description('Scopes the dashboard signs in for; empty: openid profile offline_access {authAudience}/user_impersonation.')
param dashboardScope string = ''

@description('Comma-separated object ids of further gateway identities that must never be attributed as callers (the API Management identity is added automatically).')
param gatewayObjectIds string = ''

@description('Minutes after which a ledger entry without diagnostics is final as "no diagnostics".')
@minValue(1)
param joinGraceMinutes int = 120

@description('NCRONTAB schedule of the join timer (every five minutes by default).')
param joinSchedule string = '0 */5 * * * *'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }

var databaseName = 'tokenledger'
var eventHubName = 'gateway-events'
var consumerGroupName = 'tokenledger'
var archiveContainerName = 'insights-logs-requestresponse'
var functionAppName = 'func-tokenledger-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var hasApim = !empty(apimServiceName)
var apimResourceGroup = empty(apimResourceGroupName) ? rg.name : apimResourceGroupName

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

// The gateway's own identity: it calls Azure OpenAI, so it is never a caller, and it sends the events.
resource apim 'Microsoft.ApiManagement/service@2024-05-01' existing = if (hasApim) {
  name: apimServiceName
  scope: resourceGroup(apimResourceGroup)
}
var apimPrincipalId = hasApim ? apim.identity.principalId : ''

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-tokenledger-${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    workspaceName: 'log-tokenledger-${resourceToken}'
    appInsightsName: 'appi-tokenledger-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'sttl${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    archiveContainerName: archiveContainerName
  }
}

module eventHubs 'modules/event-hubs.bicep' = {
  name: 'event-hubs'
  scope: rg
  params: {
    namespaceName: 'evhns-tokenledger-${resourceToken}'
    location: location
    tags: tags
    eventHubName: eventHubName
    consumerGroupName: consumerGroupName
    partitionCount: 4
  }
}

module cosmos 'modules/cosmos.bicep' = {
  name: 'cosmos'
  scope: rg
  params: {
    accountName: 'cosmos-tokenledger-${resourceToken}'
    location: location
    tags: tags
    databaseName: databaseName
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'function-app'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-tokenledger-${resourceToken}'
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    eventHubNamespaceHost: eventHubs.outputs.namespaceHost
    eventHubName: eventHubs.outputs.eventHubName
    consumerGroupName: eventHubs.outputs.consumerGroupName
    cosmosEndpoint: cosmos.outputs.endpoint
    databaseName: cosmos.outputs.databaseName
    workspaceCustomerId: monitoring.outputs.workspaceCustomerId
    apimPrincipalId: apimPrincipalId
    extraGatewayObjectIds: gatewayObjectIds
    authTenantId: tenant().tenantId
    authAudience: empty(authAudience) ? 'api://tokenledger-${resourceToken}' : authAudience
    dashboardClientId: dashboardClientId
    dashboardScope: dashboardScope
    joinGraceMinutes: joinGraceMinutes
    joinSchedule: joinSchedule
    openAiAccountIds: openAiAccountIds
    // Each account's own region (its metrics endpoint), read from the account by its diagnostics module.
    openAiAccountRegions: [for (accountId, i) in openAiAccountIds: openAiDiagnostics[i].outputs.location]
  }
}

module roles 'roles.bicep' = {
  name: 'roles'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    apimPrincipalId: apimPrincipalId
    deployerPrincipalId: principalId
    storageAccountName: storage.outputs.name
    archiveContainerName: archiveContainerName
    eventHubNamespaceName: eventHubs.outputs.namespaceName
    eventHubName: eventHubs.outputs.eventHubName
    workspaceName: monitoring.outputs.workspaceName
    appInsightsName: monitoring.outputs.appInsightsName
    cosmosAccountName: cosmos.outputs.accountName
  }
}

// Azure OpenAI accounts: RequestResponse logs to the workspace (and optionally the archive), and read access to
// their metrics for reconciliation. Each account is deployed to in its own subscription and resource group.
module openAiDiagnostics 'modules/openai-diagnostics.bicep' = [
  for (accountId, i) in openAiAccountIds: {
    name: 'tokenledger-openai-diagnostics-${i}-${resourceToken}'
    scope: resourceGroup(split(accountId, '/')[2], split(accountId, '/')[4])
    params: {
      accountName: last(split(accountId, '/'))
      workspaceId: monitoring.outputs.workspaceId
      archiveStorageAccountId: archiveDiagnosticsToStorage ? storage.outputs.id : ''
      archiveLocation: location
    }
  }
]

// The subscriptions of the accounts, each once.
var openAiSubscriptions = union(map(openAiAccountIds, accountId => split(accountId, '/')[2]), [])

module openAiRoles 'modules/openai-roles.bicep' = [
  for (subscriptionId, i) in openAiSubscriptions: {
    name: 'tokenledger-openai-roles-${i}-${resourceToken}'
    scope: subscription(subscriptionId)
    params: {
      identityPrincipalId: identity.outputs.principalId
    }
  }
]

// The gateway side: Event Hubs logger with APIM's managed identity, the named value the fragments use, and the
// fragments from gateway/. After the Data Sender role, so that the first events are accepted.
module gateway 'modules/apim-gateway.bicep' = if (hasApim) {
  name: 'tokenledger-gateway-${resourceToken}'
  scope: resourceGroup(apimResourceGroup)
  params: {
    apimServiceName: apimServiceName
    eventHubNamespaceHost: eventHubs.outputs.namespaceHost
    eventHubName: eventHubs.outputs.eventHubName
  }
  dependsOn: [roles]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output EVENTHUB_NAMESPACE string = eventHubs.outputs.namespaceName
output EVENTHUB_NAMESPACE_HOST string = eventHubs.outputs.namespaceHost
output EVENTHUB_NAME string = eventHubs.outputs.eventHubName
output EVENTHUB_CONSUMER_GROUP string = eventHubs.outputs.consumerGroupName
output COSMOS_ACCOUNT_NAME string = cosmos.outputs.accountName
output COSMOS_ENDPOINT string = cosmos.outputs.endpoint
output TOKENLEDGER_DATABASE string = cosmos.outputs.databaseName
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output LOG_ANALYTICS_WORKSPACE_NAME string = monitoring.outputs.workspaceName
output LOG_ANALYTICS_WORKSPACE_ID string = monitoring.outputs.workspaceCustomerId
output APPLICATIONINSIGHTS_NAME string = monitoring.outputs.appInsightsName
output AUTH_AUDIENCE string = functionApp.outputs.authAudience
output DASHBOARD_URL string = 'https://${functionApp.outputs.defaultHostName}/api/dashboard/'
output APIM_SERVICE_NAME string = apimServiceName
