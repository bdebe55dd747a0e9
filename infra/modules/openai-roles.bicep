// Role assignment on an existing Azure OpenAI account, deployed in the account's own resource group:
// the function identity reads the account's metrics (ProcessedPromptTokens, GeneratedTokens, ...) for reconciliation.
param accountName string
param identityPrincipalId string

resource account 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: accountName
}

resource monitoringReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, identityPrincipalId, '43d0d8ad-25c7-4714-9337-8ba259a9fe05')
  scope: account
  properties: {
    // Monitoring Reader
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '43d0d8ad-25c7-4714-9337-8ba259a9fe05')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}
