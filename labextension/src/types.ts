/** The REST API's data shapes (see jupyter_svc/spec.py and status.py). */

export type ServiceState =
  | 'pending'
  | 'starting'
  | 'ready'
  | 'stopping'
  | 'scaled_to_zero'
  | 'waking'
  | 'failed'
  | 'disabled';

export const SERVICE_STATES: ServiceState[] = [
  'pending',
  'starting',
  'ready',
  'stopping',
  'scaled_to_zero',
  'waking',
  'failed',
  'disabled'
];

/** The parts of a ServiceSpec the panel reads; the form handles the rest generically. */
export interface IServiceSpec {
  name: string;
  description?: string;
  icon?: string | null;
  backend?: string | null;
  scale_to_zero?: string | null;
  desired_state?: 'ready' | 'scaled_to_zero' | 'disabled';
  url?: string | null;
  [key: string]: unknown;
}

export interface IServiceStatus {
  state: ServiceState;
  message: string;
  url: string;
  backend: string;
  generation: number;
  replicas_ready: number;
  started_at: string | null;
  last_activity: string | null;
  restarts: number;
  last_exit_code: number | null;
  cold_starts: number;
  last_cold_start_ms: number | null;
  idle_deadline: string | null;
}

export interface IServiceView {
  name: string;
  spec: IServiceSpec;
  status: IServiceStatus;
}

export interface IFieldError {
  field: string;
  message: string;
}

/** The error body of every 4xx answer. */
export interface IErrorBody {
  message: string;
  reason?: string;
  errors?: IFieldError[];
}

/** Actions posted to services/<name>/<action>. */
export type ServiceAction = 'restart' | 'enable' | 'disable' | 'wake' | 'stop';
