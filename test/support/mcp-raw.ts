/** The protocol revision of the tests that speak raw JSON-RPC to /mcp (sessionful Streamable HTTP). */
export const RAW_PROTOCOL_VERSION = '2025-06-18';

/** A raw JSON-RPC `initialize` request, for tests that drive /mcp without the SDK client. */
export function initializeRequest(clientName: string, id = 1) {
  return {
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: {
      protocolVersion: RAW_PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: { name: clientName, version: '1' },
    },
  };
}
