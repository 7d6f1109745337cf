// Thin client of the broker's REST API (docs/API.md "The platform").
// Same origin: the session cookie `scn_session` travels by itself.
// Every non-2xx answer becomes an ApiError carrying the OpenAI-shaped error.

export class ApiError extends Error {
  constructor(
    public status: number,
    public type: string,
    message: string,
    public param: string | null = null,
    public code: string | null = null,
  ) {
    super(message);
  }
}

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();
/** Called when a session request answers 401 (the session expired or was revoked). */
export function onUnauthorized(fn: Listener): () => void {
  unauthorizedListeners.add(fn);
  return () => unauthorizedListeners.delete(fn);
}

export async function parseError(res: Response): Promise<ApiError> {
  let type = 'http_error';
  let message = `HTTP ${res.status}`;
  let param: string | null = null;
  let code: string | null = null;
  try {
    const body = await res.json();
    if (body && body.error) {
      type = body.error.type ?? type;
      message = body.error.message ?? message;
      param = body.error.param ?? null;
      code = body.error.code ?? null;
    }
  } catch {
    /* not JSON */
  }
  return new ApiError(res.status, type, message, param, code);
}

export async function api<T = unknown>(
  method: string,
  path: string,
  body?: unknown,
  opts: { signal?: AbortSignal; quiet401?: boolean } = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method,
    headers,
    credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: opts.signal,
  });
  if (!res.ok) {
    const err = await parseError(res);
    if (res.status === 401 && !opts.quiet401) unauthorizedListeners.forEach((fn) => fn());
    throw err;
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>('GET', path, undefined, { signal });
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const del = (path: string) => api<void>('DELETE', path);
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);

export interface List<T> {
  data: T[];
}

export type Role = 'admin' | 'operator' | 'member';
export interface User {
  id: string;
  username: string;
  role: Role;
  tenant_id: string | null;
  center_id: string | null;
  display_name?: string | null;
  disabled?: boolean;
  created_at: string;
  /** The signed-in member's tenant is suspended (login and auth/me answers). */
  tenant_suspended?: boolean;
}

export interface Requirements {
  weight_bytes: number;
  kv_bytes_per_token: number;
  kv_element_bytes: number;
  runtime_overhead_bytes: number;
  context_length: number;
  bytes_at_max_context: number;
}
export interface ModelFile {
  id: string;
  quantization: string;
  file_name: string;
  size_bytes: number;
  size_source: 'exact' | 'estimated';
  weights_present: boolean;
  sha256: string | null;
  uri: string | null;
  requirements: Requirements;
  /** The centers whose (non-removed) nodes hold the file, by center name. */
  present_in: FilePresence[];
}
export interface FilePresence {
  center_id: string;
  center_name: string;
  /** How many of the center's nodes report the file present. */
  nodes: number;
}
export interface ModelCard {
  id: string;
  name: string;
  display_name: string;
  family: string;
  architecture: string;
  parameters: number;
  context_length: number;
  licence: string;
  description?: string;
  source_url?: string | null;
  files: ModelFile[];
}

export interface Device {
  kind: string;
  model: string;
  indices?: number[];
}
export interface Replica {
  id: string;
  state: string;
  reason: string;
  node_id: string | null;
  node_name: string | null;
  center_id: string | null;
  center_name: string | null;
  device: Device | null;
  port: number | null;
  restarts: number;
  scheduled_at: string | null;
  ready_at: string | null;
  /** The service's model file on the replica's node (fetch progress); null: nothing reported. */
  model_file?: { state: string; bytes_present: number; size_bytes: number } | null;
}
export interface Placement {
  regions?: string[];
  device_kind?: 'cpu' | 'gpu' | 'any';
  device_models?: string[];
  price_cap_per_hour?: number;
  cpu_threads?: number;
}
export interface Service {
  id: string;
  tenant_id: string;
  name: string;
  model: string;
  quantization: string;
  model_file_id: string;
  replicas_wanted: number;
  replicas_ready: number;
  context_length: number;
  placement: Placement;
  status: string;
  status_reason: string | null;
  created_at: string;
  updated_at?: string;
  endpoint: string;
  replicas?: Replica[];
}

export interface Center {
  id: string;
  name: string;
  region: string;
  price_gpu_hour: number;
  price_cpu_core_hour: number;
  currency: string;
  status: string;
  created_at: string;
}
export interface NodeDevice {
  kind: string;
  model: string;
  memory_bytes: number;
  count: number;
}
export interface NodeReplica {
  id: string;
  service_id: string;
  service_name: string;
  tenant_id: string;
  state: string;
  reason: string;
  device: Device | null;
  port: number | null;
  cpu_threads: number | null;
  memory_bytes: number;
  restarts: number;
}
export interface NodeModel {
  model_file_id: string;
  model: string;
  quantization: string;
  state: string;
  bytes_present: number;
}
export interface NodeInfo {
  id: string;
  name: string;
  center_id: string;
  center_name: string;
  region: string;
  address: string;
  labels: Record<string, string>;
  simulated: boolean;
  status: string;
  status_reason: string | null;
  alive: boolean;
  last_heartbeat_at: string | null;
  devices: NodeDevice[];
  replicas: number | NodeReplica[];
  replica_count?: number;
  models?: NodeModel[];
  /** "slurm" for a node of a Slurm center's `scn agent --slurm` (older brokers: absent). */
  managed_by?: 'agent' | 'slurm';
  slurm?: SlurmView | null;
}

/** Slurm's last view of a Slurm-managed node (docs/API.md, "Nodes"). */
export interface SlurmView {
  node: string;
  partition: string;
  state: string;
  reason: string;
  controller: 'ok' | 'unreachable';
}

export interface JoinToken {
  id: string;
  center_id: string;
  prefix: string;
  created_at: string;
  expires_at: string;
  revoked_at?: string | null;
  max_uses: number | null;
  uses?: number;
  token?: string;
}

export interface ApiKey {
  id: string;
  tenant_id: string;
  name: string;
  prefix: string;
  key?: string;
  created_at: string;
  expires_at: string | null;
  revoked_at?: string | null;
  last_used_at?: string | null;
  /** GET/PATCH /api-keys/{id} (and POST with limits): the key's own limits. */
  limits?: Record<'requests_per_minute' | 'tokens_per_minute' | 'max_concurrent_requests' | 'monthly_token_budget', number | null>;
  /** The services the key may call; null: every service of its tenant. */
  services?: { id: string; name: string }[] | null;
  monthly_tokens_used?: number | null;
}

export interface UsageRow {
  tenant_id: string;
  service_id: string;
  service_name: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  /** Present when the broker answers `?group_by=day`. */
  day?: string;
  /** Present when the broker prices usage. */
  cost?: number;
}

export interface PoolDevice {
  kind: string;
  model: string;
  simulated: boolean;
  count: number;
  memory_bytes: number;
  used_count: number;
  used_memory_bytes: number;
  free_memory_bytes: number;
}
export interface PoolCenter {
  id: string;
  name: string;
  region: string;
  nodes: Record<string, number>;
  devices: PoolDevice[];
  /** Slurm-managed nodes of the center; degraded while its Slurm controller is unreachable. */
  slurm_nodes?: number;
  degraded?: boolean;
  degraded_reason?: string;
}
export interface Pool {
  centers: PoolCenter[];
  services: Record<string, number>;
  replicas: Record<string, number>;
}

export interface Tenant {
  id: string;
  name: string;
  display_name: string;
  status: string;
  allowed_regions: string[] | null;
  max_replicas: number;
  created_at: string;
}

export interface AuditRow {
  id: number;
  at: string;
  actor_kind: string;
  actor_user_id: string | null;
  actor_name: string;
  tenant_id: string | null;
  center_id: string | null;
  action: string;
  target_kind: string;
  target_id: string;
  outcome: string;
  details: Record<string, unknown>;
  client_ip: string | null;
}

/** GET /api/v1/pool/history: per-minute usage sums and nodes lost in the window. */
export interface PoolHistory {
  minutes: number;
  series: { minute: string; requests: number; prompt_tokens: number; completion_tokens: number }[];
  nodes_lost: { id: string; name: string; center_id: string; center_name: string; at: string; reason: string | null }[];
}

/** "GPU H200 #0,1" for a replica's device; "" when it has none yet (pending). */
export function deviceLabel(d: Device | null | undefined): string {
  if (!d || !d.kind) return '';
  return `${d.kind.toUpperCase()} ${d.model ?? ''}${d.indices?.length ? ` #${d.indices.join(',')}` : ''}`.trim();
}
