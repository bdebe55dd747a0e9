// The TokenLedger function app on Flex Consumption (Linux, Node 22: Node 20 reached end of life on 2026-04-30),
// running as the user-assigned managed identity.
// Every connection is identity-based: `<connection>__credential: managedidentity` plus the identity's client id.
// The app settings below are all the settings the code reads (src/config/settings.ts, `%NAME%` and `connection`
// in functions/); test/unit/infra.test.ts keeps the two in step.
param name string
param planName string
param location string
param tags object = {}

param identityId string
param identityClientId string

param storageAccountName string
param deploymentContainerName string
param appInsightsName string

@description('Fully qualified Event Hubs namespace, <namespace>.servicebus.windows.net.')
param eventHubNamespaceHost string
param eventHubName string
param consumerGroupName string

param cosmosEndpoint string
param databaseName string

@description('Log Analytics workspace (customer) id.')
param workspaceCustomerId string

@description('Object id of the API Management managed identity, or empty.')
param apimPrincipalId string = ''
@description('Further comma-separated gateway object ids, or empty.')
param extraGatewayObjectIds string = ''

param authTenantId string
param authAudience string
@description('Client id of the dashboard\'s single-page-app registration, or empty (pasted tokens only).')
param dashboardClientId string = ''
@description('Scopes the dashboard signs in for, or empty for the default.')
param dashboardScope string = ''
param joinGraceMinutes int = 120
@description('NCRONTAB schedule of the join timer.')
param joinSchedule string = '0 */5 * * * *'

@description('Azure OpenAI account resource ids whose Azure Monitor token metrics are reconciled.')
param openAiAccountIds array = []

@description('Azure region of each of those accounts, in the same order: metrics:getBatch is called per region and subscription at https://<region>.metrics.monitor.azure.com.')
param openAiAccountRegions array = []

@description('NCRONTAB schedule of the reconciliation timer.')
param reconcileSchedule string = '0 15 * * * *'

@description('NCRONTAB schedule of the chargeback rollup timer.')
param rollupSchedule string = '30 */5 * * * *'

@description('NCRONTAB schedule of the weights timer, which stores each hour\'s backend-pool recommendation.')
param weightsSchedule string = '0 10 * * * *'

@description('NCRONTAB schedule of the invoice allocation timer, which allocates new Cost Management exports.')
param allocateSchedule string = '0 40 * * * *'

@description('Blob container of this storage account that the Cost Management FOCUS export writes to, and the folder in it.')
param costExportContainerName string = 'cost-exports'
param costExportPrefix string = ''

@description('Flex Consumption scale-out limit (40 to 1000). The Event Hubs trigger uses at most one instance per partition.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

var apimAndExtra = empty(extraGatewayObjectIds) ? apimPrincipalId : '${apimPrincipalId},${extraGatewayObjectIds}'
var gatewayObjectIds = empty(apimPrincipalId) ? extraGatewayObjectIds : apimAndExtra

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }
}

// Flex Consumption sets the worker runtime and version from functionAppConfig: no FUNCTIONS_WORKER_RUNTIME,
// FUNCTIONS_EXTENSION_VERSION or WEBSITE_RUN_FROM_PACKAGE here (the platform rejects them).
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    // Functions host storage (checkpoints, timers, leases).
    AzureWebJobsStorage__accountName: storage.name
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId

    // Event Hubs trigger (functions/ingest.ts: connection 'EventHubConnection', '%EVENTHUB_NAME%', '%EVENTHUB_CONSUMER_GROUP%').
    EventHubConnection__fullyQualifiedNamespace: eventHubNamespaceHost
    EventHubConnection__credential: 'managedidentity'
    EventHubConnection__clientId: identityClientId
    EVENTHUB_NAME: eventHubName
    EVENTHUB_CONSUMER_GROUP: consumerGroupName

    // Cosmos DB (src/config/composition-root.ts builds the client with DefaultAzureCredential and this client id).
    CosmosDB__accountEndpoint: cosmosEndpoint
    CosmosDB__clientId: identityClientId
    TOKENLEDGER_DATABASE: databaseName

    // Storage: tables (watermarks, identity directory), the diagnostics archive, and the payloads of oversize dead
    // letters and quarantined trigger batches (containers dead-letters and quarantine).
    Tables__endpoint: storage.properties.primaryEndpoints.table
    Archive__blobEndpoint: storage.properties.primaryEndpoints.blob
    DeadLetters__blobEndpoint: storage.properties.primaryEndpoints.blob
    // The Cost Management "Cost and usage details (FOCUS)" export the allocation timer reads.
    CostExport__blobEndpoint: storage.properties.primaryEndpoints.blob
    COST_EXPORT_CONTAINER: costExportContainerName
    COST_EXPORT_PREFIX: costExportPrefix

    // Join and reconciliation.
    LOG_ANALYTICS_WORKSPACE_ID: workspaceCustomerId
    GATEWAY_OBJECT_IDS: gatewayObjectIds
    JOIN_GRACE_MINUTES: string(joinGraceMinutes)
    JOIN_SCHEDULE: joinSchedule
    ROLLUP_SCHEDULE: rollupSchedule
    RECONCILE_SCHEDULE: reconcileSchedule
    WEIGHTS_SCHEDULE: weightsSchedule
    ALLOCATE_SCHEDULE: allocateSchedule
    AZURE_OPENAI_RESOURCE_IDS: join(map(range(0, length(openAiAccountIds)), i => '${openAiAccountRegions[i]}=${openAiAccountIds[i]}'), ',')
    // Empty: the price table shipped with the package (prices/default-prices.json).
    PRICE_TABLE_PATH: ''

    // HTTP APIs: callers' tokens must be issued by this tenant for this audience.
    AUTH_TENANT_ID: authTenantId
    AUTH_AUDIENCE: authAudience
    AUTH_AUTHORITY_HOST: environment().authentication.loginEndpoint
    // The dashboard's sign-in (public values, served to the page as config.json): authorization code + PKCE.
    DASHBOARD_CLIENT_ID: dashboardClientId
    DASHBOARD_SCOPE: dashboardScope

    // Telemetry with Entra ID (Application Insights has local authentication disabled). The connection string
    // only names the ingestion endpoint: with local auth disabled it grants nothing by itself.
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  }
}

// No publishing credentials: deployments (azd, CI) authenticate with Entra ID.
resource ftpPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPolicy 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
output authAudience string = authAudience
