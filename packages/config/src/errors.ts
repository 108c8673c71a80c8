/** One problem in a configuration: the dotted path of the field and what is wrong with it. */
export interface ConfigIssue {
  path: string;
  message: string;
}

/** A configuration that cannot be used; the message names every bad field. */
export class ConfigError extends Error {
  readonly issues: ConfigIssue[];

  constructor(source: string, issues: ConfigIssue[], options?: { cause?: unknown }) {
    super(`${source}: ${issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; ')}`, options);
    this.name = 'ConfigError';
    this.issues = issues;
  }
}
