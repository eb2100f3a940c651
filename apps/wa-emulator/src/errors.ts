/** An error the emulator answers with `{error: {code, message}}` and this HTTP status. */
export class EmulatorError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'EmulatorError';
  }
}
