// Diagnostic setting on an existing Azure OpenAI account: RequestResponse logs to the TokenLedger workspace
// (table AzureDiagnostics, which queries/ reads) and, optionally, to the storage archive. Deployed in the account's
// own resource group.
param accountName string
@description('Resource id of the Log Analytics workspace.')
param workspaceId string
@description('Resource id of the archive storage account; empty: no archive.')
param archiveStorageAccountId string = ''
param settingName string = 'tokenledger'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: accountName
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: account
  properties: {
    workspaceId: workspaceId
    storageAccountId: empty(archiveStorageAccountId) ? null : archiveStorageAccountId
    // No logAnalyticsDestinationType: Azure OpenAI logs go to AzureDiagnostics.
    logs: [
      {
        category: 'RequestResponse'
        enabled: true
      }
    ]
  }
}

output id string = diagnostics.id
@description('Region of the account: its Azure Monitor metrics endpoint is https://<location>.metrics.monitor.azure.com.')
output location string = account.location
