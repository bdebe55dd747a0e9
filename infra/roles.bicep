// Role assignments inside the TokenLedger resource group: the least each principal needs, at the narrowest scope.
// (Monitoring Reader on the Azure OpenAI accounts lives in modules/openai-roles.bicep, deployed at each account.)
//
// Function app identity
//   Storage Blob Data Owner          storage account   AzureWebJobsStorage, Event Hubs checkpoints, deployment package,
//                                                      dead-letter payloads and quarantined batches (DeadLetters__blobEndpoint)
//   Storage Queue Data Contributor   storage account   Functions host queues
//   Storage Table Data Contributor   storage account   watermarks, identity directory (Tables__endpoint)
//   Storage Blob Data Reader         archive container Azure OpenAI diagnostics archive (Archive__blobEndpoint)
//   Azure Event Hubs Data Receiver   event hub         the ingest trigger
//   Log Analytics Reader             workspace         join and reconciliation queries
//   Monitoring Metrics Publisher     App Insights      telemetry with Entra ID
//   Cosmos DB Built-in Data Contributor (data plane)   ledger, dead letters, aggregates
// API Management identity
//   Azure Event Hubs Data Sender     event hub         log-to-eventhub
// Deployer (optional)
//   Cosmos DB Built-in Data Reader (data plane)        verifying the ledger (infra/README.md)

param identityPrincipalId string
@description('Object id of the API Management managed identity; empty: no Data Sender assignment.')
param apimPrincipalId string = ''
@description('Object id of the deployer; empty: no assignment.')
param deployerPrincipalId string = ''

param storageAccountName string
param archiveContainerName string
param eventHubNamespaceName string
param eventHubName string
param workspaceName string
param appInsightsName string
param cosmosAccountName string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource archiveContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: archiveContainerName
}

resource namespace 'Microsoft.EventHub/namespaces@2024-01-01' existing = {
  name: eventHubNamespaceName
}

resource hub 'Microsoft.EventHub/namespaces/eventhubs@2024-01-01' existing = {
  parent: namespace
  name: eventHubName
}

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

// ---- Storage ---------------------------------------------------------------------------------------------------

resource storageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
  scope: storage
  properties: {
    // Storage Blob Data Owner
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource storageQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, '974c5e8b-45b9-4653-ba55-5f855dd0fb88')
  scope: storage
  properties: {
    // Storage Queue Data Contributor
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '974c5e8b-45b9-4653-ba55-5f855dd0fb88')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource storageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
  scope: storage
  properties: {
    // Storage Table Data Contributor
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Read access to the archive stays explicit, so that narrowing the owner role above never cuts off the join.
resource archiveBlobDataReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(archiveContainer.id, identityPrincipalId, '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1')
  scope: archiveContainer
  properties: {
    // Storage Blob Data Reader
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Event Hubs ------------------------------------------------------------------------------------------------

resource eventHubsDataReceiver 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(hub.id, identityPrincipalId, 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde')
  scope: hub
  properties: {
    // Azure Event Hubs Data Receiver
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'a638d3c7-ab3a-418d-83e6-5f17a39d4fde')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource apimEventHubsDataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(apimPrincipalId)) {
  name: guid(hub.id, apimPrincipalId, '2b629674-e913-4c01-ae53-ef4638d8f975')
  scope: hub
  properties: {
    // Azure Event Hubs Data Sender
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '2b629674-e913-4c01-ae53-ef4638d8f975')
    principalId: apimPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Monitoring ------------------------------------------------------------------------------------------------

resource logAnalyticsReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, identityPrincipalId, '73c42c96-874c-492b-b04d-ab87d138a893')
  scope: workspace
  properties: {
    // Log Analytics Reader
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '73c42c96-874c-492b-b04d-ab87d138a893')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource monitoringMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identityPrincipalId, '3913510d-42f4-4e42-8a64-420c390055eb')
  scope: appInsights
  properties: {
    // Monitoring Metrics Publisher
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '3913510d-42f4-4e42-8a64-420c390055eb')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// ---- Cosmos DB data plane (Cosmos DB's own RBAC, not Azure RBAC) --------------------------------------------------

resource cosmosDataContributor 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = {
  parent: cosmos
  name: guid(cosmos.id, identityPrincipalId, '00000000-0000-0000-0000-000000000002')
  properties: {
    // Cosmos DB Built-in Data Contributor
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000002'
    principalId: identityPrincipalId
    scope: cosmos.id
  }
}

resource deployerCosmosDataReader 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = if (!empty(deployerPrincipalId)) {
  parent: cosmos
  name: guid(cosmos.id, deployerPrincipalId, '00000000-0000-0000-0000-000000000001')
  properties: {
    // Cosmos DB Built-in Data Reader
    roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/00000000-0000-0000-0000-000000000001'
    principalId: deployerPrincipalId
    scope: cosmos.id
  }
}
