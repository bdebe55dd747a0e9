/**
 * Declared schemas of the Log Analytics tables our KQL reads, with the column names and types of the Azure
 * Monitor table reference (learn.microsoft.com/azure/azure-monitor/reference/tables/…). Tests analyse every
 * query in `queries/` against them; a column missing here is a query that would fail in a real workspace.
 */

export type KustoType = 'string' | 'datetime' | 'real' | 'long' | 'int' | 'bool' | 'dynamic' | 'guid' | 'timespan';

export type TableSchema = Readonly<Record<string, KustoType>>;

/**
 * Resource logs in Azure Diagnostics mode; we read `Category == "RequestResponse"` of Cognitive Services accounts.
 * Only columns every workspace's table has (the reference's minimum set): a column a service adds when its first
 * record comes, such as `location_s`, goes to the `AdditionalFields` property bag instead once the table has 500,
 * under the record's own name (`location`), without a type suffix.
 */
export const azureDiagnostics: TableSchema = {
  TenantId: 'string',
  TimeGenerated: 'datetime',
  Category: 'string',
  ResourceGroup: 'string',
  SubscriptionId: 'string',
  ResourceProvider: 'string',
  Resource: 'string',
  ResourceType: 'string',
  OperationName: 'string',
  ResultType: 'string',
  CorrelationId: 'string',
  ResultDescription: 'string',
  ResultSignature: 'string',
  DurationMs: 'long',
  CallerIPAddress: 'string',
  Level: 'string',
  properties_s: 'string',
  event_s: 'string',
  SourceSystem: 'string',
  Type: 'string',
  _ResourceId: 'string',
  _SubscriptionId: 'string',
  _BilledSize: 'real',
  _IsBillable: 'string',
  AdditionalFields: 'dynamic',
};

/** APIM gateway logs (resource-specific mode): one row per request through the gateway. */
export const apiManagementGatewayLogs: TableSchema = {
  TenantId: 'string',
  TimeGenerated: 'datetime',
  OperationName: 'string',
  CorrelationId: 'string',
  Region: 'string',
  IsRequestSuccess: 'bool',
  Category: 'string',
  TotalTime: 'long',
  CallerIpAddress: 'string',
  Method: 'string',
  Url: 'string',
  ClientProtocol: 'string',
  ResponseCode: 'int',
  BackendMethod: 'string',
  BackendUrl: 'string',
  BackendResponseCode: 'int',
  BackendProtocol: 'string',
  RequestSize: 'int',
  ResponseSize: 'int',
  Cache: 'string',
  CacheTime: 'long',
  BackendTime: 'long',
  ClientTime: 'long',
  ApiId: 'string',
  OperationId: 'string',
  ProductId: 'string',
  UserId: 'string',
  ApimSubscriptionId: 'string',
  BackendId: 'string',
  ApiRevision: 'string',
  ClientTlsVersion: 'string',
  RequestHeaders: 'dynamic',
  ResponseHeaders: 'dynamic',
  BackendRequestHeaders: 'dynamic',
  BackendResponseHeaders: 'dynamic',
  RequestBody: 'string',
  ResponseBody: 'string',
  BackendRequestBody: 'string',
  BackendResponseBody: 'string',
  LastErrorElapsed: 'long',
  LastErrorSource: 'string',
  LastErrorScope: 'string',
  LastErrorSection: 'string',
  LastErrorReason: 'string',
  LastErrorMessage: 'string',
  Errors: 'dynamic',
  TraceRecords: 'dynamic',
  IsMasterTrace: 'bool',
  IsTraceAllowed: 'bool',
  IsTraceExpired: 'bool',
  IsTraceRequested: 'bool',
  SourceSystem: 'string',
  Type: 'string',
  _ResourceId: 'string',
  _SubscriptionId: 'string',
  _BilledSize: 'real',
  _IsBillable: 'string',
};

/** APIM language-model logs: token counts per gateway request (several rows for a streamed completion). */
export const apiManagementGatewayLlmLog: TableSchema = {
  TenantId: 'string',
  TimeGenerated: 'datetime',
  OperationName: 'string',
  CorrelationId: 'string',
  Region: 'string',
  ApiVersion: 'string',
  RequestId: 'string',
  DeploymentName: 'string',
  ModelName: 'string',
  IsStreamCompletion: 'bool',
  PromptTokens: 'int',
  CompletionTokens: 'int',
  TotalTokens: 'int',
  SequenceNumber: 'int',
  RequestMessages: 'dynamic',
  ResponseMessages: 'dynamic',
  SourceSystem: 'string',
  Type: 'string',
  _ResourceId: 'string',
  _SubscriptionId: 'string',
  _BilledSize: 'real',
  _IsBillable: 'string',
};

export const TABLE_SCHEMAS: Readonly<Record<string, TableSchema>> = {
  AzureDiagnostics: azureDiagnostics,
  ApiManagementGatewayLogs: apiManagementGatewayLogs,
  ApiManagementGatewayLlmLog: apiManagementGatewayLlmLog,
};

/** The schema in Kusto's `(name:type, …)` notation, as `.create table` and the language service take it. */
export function schemaText(schema: TableSchema): string {
  return `(${Object.entries(schema)
    .map(([name, type]) => `${name}:${type}`)
    .join(', ')})`;
}
