// Monitoring Reader on the subscription of Azure OpenAI accounts: the function identity reads their metrics
// (ProcessedPromptTokens, GeneratedTokens, ...) for reconciliation with `metrics:getBatch`, a call on the
// subscription (POST /subscriptions/<id>/metrics:getBatch), which needs the role there: on each account, it is refused.
targetScope = 'subscription'

param identityPrincipalId string

resource monitoringReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, identityPrincipalId, '43d0d8ad-25c7-4714-9337-8ba259a9fe05')
  properties: {
    // Monitoring Reader
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '43d0d8ad-25c7-4714-9337-8ba259a9fe05')
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}
