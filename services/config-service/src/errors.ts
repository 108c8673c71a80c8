import { StatusError } from '@larder/errors';

/** A change the config-service refuses, with the status it answers with (400 invalid, 404 not kept, 409 conflict, 500 failed). */
export class ConfigChangeError extends StatusError {
  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(status, message, options);
    this.name = 'ConfigChangeError';
  }
}
