// Log Analytics workspace (Azure OpenAI RequestResponse logs land here, and the function logs through Application
// Insights) and a workspace-based Application Insights. Local (key) authentication is disabled on both: the function
// app sends telemetry with Entra ID (APPLICATIONINSIGHTS_AUTHENTICATION_STRING) and queries with its identity.
param workspaceName string
param appInsightsName string
param location string
param tags object = {}

@minValue(30)
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

output workspaceId string = workspace.id
output workspaceName string = workspace.name
@description('The workspace (customer) id that the Log Analytics query API takes.')
output workspaceCustomerId string = workspace.properties.customerId
output appInsightsName string = appInsights.name
