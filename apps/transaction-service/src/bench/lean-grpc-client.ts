/* A lean unary gRPC client for the benchmark's load generator: the gRPC wire protocol (HTTP/2,
 * length-prefixed messages, status in trailers) spoken directly over node:http2, one session per
 * client thread. grpc-js's client spends about twice its CPU per call on channel, filter and
 * metadata machinery a load generator does not need, and on a 2-core machine every microsecond
 * the client spends is taken from the service and Postgres being measured, as pgbench's C client
 * would not take it. The service side is unchanged: the same grpc-js server that production
 * callers reach. `BENCH_CLIENT=grpc-js` runs the benchmark with grpc-js's client instead. */
import http2 from 'node:http2';
import { ledgerV1, serverOf } from '@bank/contracts';
import type { WorkloadIdentity } from '@bank/platform';

/** Five bytes precede every gRPC message: a compression flag and a 32-bit big-endian length. */
const MESSAGE_PREFIX_BYTES = 5;
/** Responses larger than this are refused: a reply of 8,000 outcomes is a few hundred KB. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;
const GRPC_STATUS_OK = '0';
const GRPC_STATUS_DEADLINE_EXCEEDED = '4';
const GRPC_STATUS_RESOURCE_EXHAUSTED = '8';
/** The client gives up this long after the deadline it sent, in case the server never answers. */
const DEADLINE_SLACK_MS = 1_000;

export class GrpcCallFailed extends Error {
  constructor(
    readonly status: string,
    detail: string,
  ) {
    super(`gRPC status ${status}: ${detail}`);
  }
}

export class LeanLedgerClient {
  private readonly session: http2.ClientHttp2Session;
  private readonly createTransfersPath = ledgerV1.LedgerServiceService.createTransfers.path;

  constructor(address: string, identity: WorkloadIdentity) {
    // Mutual TLS as every caller speaks it: the caller's certificate, and the ledger's checked by name.
    const servername = serverOf(this.createTransfersPath) ?? 'transaction-service';
    this.session = http2.connect(`https://${address}`, { ca: identity.ca, cert: identity.cert, key: identity.key, servername, ALPNProtocols: ['h2'] });
    // A broken session fails the calls on it through their streams; the event itself is noise.
    this.session.on('error', () => undefined);
  }

  async createTransfers(transfers: Partial<ledgerV1.Transfer>[], timeoutMs: number): Promise<ledgerV1.CreateTransfersResponse> {
    const body = ledgerV1.CreateTransfersRequest.encode(ledgerV1.CreateTransfersRequest.fromPartial({ transfers })).finish();
    const reply = await this.unary(this.createTransfersPath, body, timeoutMs);
    return ledgerV1.CreateTransfersResponse.decode(reply);
  }

  private unary(path: string, message: Uint8Array, timeoutMs: number): Promise<Buffer> {
    const frame = Buffer.allocUnsafe(MESSAGE_PREFIX_BYTES + message.length);
    frame[0] = 0;
    frame.writeUInt32BE(message.length, 1);
    frame.set(message, MESSAGE_PREFIX_BYTES);
    const stream = this.session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': `${timeoutMs}m`,
    });
    stream.end(frame);
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let received = 0;
      let status: string | undefined;
      let detail = '';
      const takeStatus = (headers: http2.IncomingHttpHeaders): void => {
        const s = headers['grpc-status'];
        if (typeof s !== 'string') return;
        status = s;
        const message = String(headers['grpc-message'] ?? '');
        try {
          detail = decodeURIComponent(message);
        } catch {
          // The spec tells clients to keep a message they cannot decode, not to fail on it.
          detail = message;
        }
      };
      // A response's status comes in its trailers, or in its only headers when it carries no
      // message ("trailers-only", the end of the stream); a status in headers that open a body
      // would be a protocol error, and is not trusted.
      stream.on('response', (headers, flags) => {
        if ((flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0) takeStatus(headers);
      });
      stream.on('trailers', takeStatus);
      stream.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received > MAX_RESPONSE_BYTES) {
          status = GRPC_STATUS_RESOURCE_EXHAUSTED;
          detail = `reply over ${MAX_RESPONSE_BYTES} bytes`;
          stream.removeAllListeners('trailers');
          stream.close(http2.constants.NGHTTP2_CANCEL);
        } else chunks.push(chunk);
      });
      // The server enforces the deadline it was sent; this covers a server that never answers.
      const timer = setTimeout(() => {
        status = GRPC_STATUS_DEADLINE_EXCEEDED;
        detail = `no reply within ${timeoutMs} ms`;
        stream.removeAllListeners('trailers');
        stream.close(http2.constants.NGHTTP2_CANCEL);
      }, timeoutMs + DEADLINE_SLACK_MS);
      stream.on('error', reject);
      stream.on('close', () => {
        clearTimeout(timer);
        if (status !== GRPC_STATUS_OK) {
          reject(new GrpcCallFailed(status ?? 'missing', detail || `stream closed with HTTP/2 code ${stream.rstCode ?? 'none'}`));
          return;
        }
        const all = Buffer.concat(chunks);
        if (all.length < MESSAGE_PREFIX_BYTES || all[0] !== 0 || all.readUInt32BE(1) !== all.length - MESSAGE_PREFIX_BYTES) {
          reject(new GrpcCallFailed(status, `malformed reply of ${all.length} bytes`));
          return;
        }
        resolve(all.subarray(MESSAGE_PREFIX_BYTES));
      });
    });
  }

  close(): void {
    this.session.close();
  }
}
