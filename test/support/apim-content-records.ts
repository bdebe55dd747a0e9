/**
 * APIM resource-log records as a diagnostic setting streams them to Event Hubs (`{"records":[…]}`), shaped like the
 * real GatewayLogs export in test/fixtures/apim-gatewaylogs.records.json and the GatewayLlmLogs fixture in
 * test/fixtures/apim-llm-logs/, with message, body and header logging switched on as Microsoft documents it:
 *
 * - GatewayLogs columns RequestBody, BackendRequestBody (string), BackendRequestHeaders (dynamic, "Collection of HTTP
 *   headers sent to a backend"), BackendResponseBody, ResponseBody:
 *   https://learn.microsoft.com/azure/api-management/gateway-log-schema-reference
 *   https://learn.microsoft.com/azure/azure-monitor/reference/tables/ApiManagementGatewayLogs
 * - "Headers to log" (list) and "Number of payload bytes to log" (up to 8,192) for frontend/backend request/response:
 *   https://learn.microsoft.com/azure/api-management/diagnostic-logs-reference
 * - GatewayLlmLogs columns RequestMessages / ResponseMessages ("content of the request/response messages"),
 *   DeploymentName ("deployment name used by the client"), SequenceNumber:
 *   https://learn.microsoft.com/azure/azure-monitor/reference/tables/apimanagementgatewayllmlog
 * - "Log token usage, prompts, and completions": messages logged up to 32 KB per entry, larger ones split:
 *   https://learn.microsoft.com/azure/api-management/api-management-howto-llm-logs
 */

export const PROMPT = 'Patient Jane Roe, DOB 1961-04-02, MRN 448812: summarise her oncology notes';
export const COMPLETION = 'Summary for Jane Roe: stage II carcinoma, next infusion on 14 May';
/** A managed-identity bearer token APIM sends to Azure OpenAI (authentication-managed-identity); shape only. */
export const BEARER = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL2NvZ25pdGl2ZXNlcnZpY2VzLmF6dXJlLmNvbSJ9.c2lnbmF0dXJl';
/** An Azure OpenAI key a set-header policy sends to the backend; shape only. */
export const API_KEY = '3f9c1e7a5b2d4c6e8a0b1c2d3e4f5a6b';

export const SENSITIVE = [PROMPT, COMPLETION, BEARER, API_KEY];

const RESOURCE_ID = '/SUBSCRIPTIONS/6B3F0A2E-1C7D-4E59-A8B2-C3D4E5F60718/RESOURCEGROUPS/RG-AI-GATEWAY/PROVIDERS/MICROSOFT.APIMANAGEMENT/SERVICE/APIM-CONTOSO-AI';

const requestBody = JSON.stringify({ messages: [{ role: 'user', content: PROMPT }], stream: false });
const responseBody = JSON.stringify({
  id: 'chatcmpl-BD2vQ7kL0pXe4mN8rT1yU6wZ3aS5d',
  object: 'chat.completion',
  model: 'gpt-4o-2024-08-06',
  choices: [{ index: 0, finish_reason: 'stop', message: { role: 'assistant', content: COMPLETION } }],
  usage: { prompt_tokens: 31, completion_tokens: 19, total_tokens: 50 },
});

/** One GatewayLogs record with body and backend-request-header logging on; `deployment` is the client's URL segment. */
export function gatewayLogsRecord(correlationId: string, deployment = 'gpt-4o-prod'): Record<string, unknown> {
  const path = `/openai/deployments/${deployment}/chat/completions?api-version=2024-10-21`;
  return {
    time: '2026-11-20T09:41:07.0110000Z',
    resourceId: RESOURCE_ID,
    category: 'GatewayLogs',
    operationName: 'Microsoft.ApiManagement/GatewayLogs',
    correlationId,
    durationMs: 2140,
    location: 'East US',
    callerIpAddress: '203.0.113.24',
    isRequestSuccess: true,
    properties: {
      method: 'POST',
      url: `https://apim-contoso-ai.azure-api.net${path}`,
      backendMethod: 'POST',
      backendUrl: `https://contoso-aoai-eastus.openai.azure.com${path}`,
      backendRequestHeaders: { Authorization: `Bearer ${BEARER}`, 'api-key': API_KEY, 'Content-Type': 'application/json' },
      requestBody,
      backendRequestBody: requestBody,
      backendResponseBody: responseBody,
      responseBody,
      backendResponseCode: 200,
      responseCode: 200,
      backendTime: 2090,
      apiId: 'azure-openai',
      operationId: 'ChatCompletions_Create',
      apimSubscriptionId: 'hr-chatbot',
      productId: 'ai-standard',
      backendId: 'aoai-eastus',
    },
  };
}

/** A GatewayLlmLogs message row (sequence 1: messages only, null tokens), as in the fixture and the table reference. */
export function llmLogMessageRow(correlationId: string, deploymentName = ''): Record<string, unknown> {
  return {
    time: '2026-11-20T09:41:09.1520000Z',
    resourceId: RESOURCE_ID,
    category: 'GatewayLlmLogs',
    operationName: 'Microsoft.ApiManagement/GatewayLlmLogs',
    correlationId,
    location: 'East US',
    properties: {
      apiVersion: '2024-10-21',
      deploymentName,
      modelName: '',
      operationName: 'ChatCompletions_Create',
      promptTokens: null,
      completionTokens: null,
      totalTokens: null,
      isStreamCompletion: false,
      requestId: null,
      sequenceNumber: 1,
      requestMessages: [{ role: 'user', content: PROMPT }],
      responseMessages: [{ role: 'assistant', content: COMPLETION }],
      region: 'East US',
    },
  };
}

/** An Event Hubs body as Azure Monitor writes it, as the trigger (dataType binary) hands it over. */
export function envelope(...records: Record<string, unknown>[]): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify({ records }), 'utf8'));
}

export const POSITION = { partitionId: '3', sequenceNumber: 812, offset: '831488', enqueuedTimeUtc: '2026-11-20T09:41:10.000Z' };

/** The sensitive strings found in a stored value's JSON text. */
export function leaked(stored: unknown): string[] {
  const text = JSON.stringify(stored);
  return SENSITIVE.filter((s) => text.includes(s));
}
