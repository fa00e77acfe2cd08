import { Injectable } from '@nestjs/common';

/** Whether this process's queue consumers are running; readiness reads it in worker and all modes. */
@Injectable()
export class ConsumerState {
  private running = false;
  private detail = 'not started';

  markRunning(): void {
    this.running = true;
    this.detail = 'running';
  }

  markStopped(detail: string): void {
    this.running = false;
    this.detail = detail;
  }

  get isRunning(): boolean {
    return this.running;
  }

  get description(): string {
    return this.detail;
  }
}
