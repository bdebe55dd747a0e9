// Diagnostic setting on an existing Azure OpenAI account: RequestResponse logs to the TokenLedger workspace
// (table AzureDiagnostics, which queries/ reads) and, optionally, to the storage archive. Deployed in the account's
// own resource group.
param accountName string
@description('Resource id of the Log Analytics workspace.')
param workspaceId string
@description('Resource id of the archive storage account; empty: no archive.')
param archiveStorageAccountId string = ''
@description('Region of the archive storage account.')
param archiveLocation string = ''
param settingName string = 'tokenledger'

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: accountName
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: settingName
  scope: account
  properties: {
    workspaceId: workspaceId
    // Azure Monitor writes a regional resource's logs only to a storage account in the same region: an account
    // elsewhere is not archived (its logs still reach the workspace, which the join reads).
    storageAccountId: !empty(archiveStorageAccountId) && toLower(account.location) == toLower(archiveLocation) ? archiveStorageAccountId : null
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
@description('Region code of the account (such as eastus, whatever spelling the account was created with): its Azure Monitor metrics endpoint is https://<location>.metrics.monitor.azure.com.')
output location string = toLower(replace(account.location, ' ', ''))
