/**
 * The job queue: jobs live in SQLite (factory_jobs.status), one worker in this process runs them
 * oldest first. On start, jobs left `running` by a crash (or `validating_files`) go back to
 * `queued`, so a killed node picks its job up again and train() resumes from the job's last
 * checkpoint. Cancel aborts the running job at its next step; stop() pauses it (back to queued).
 */
import type { FactoryService } from './jobs.ts';

export class JobQueue {
  private running: { id: string; ac: AbortController; done: Promise<void> } | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly svc: FactoryService) {
    svc.onQueued = () => this.wake?.();
    svc.onCancel = (id) => {
      if (this.running?.id === id) this.running.ac.abort({ cancelled: true });
    };
  }

  /** Recover interrupted jobs and start the worker. */
  start(): void {
    for (const j of this.svc.repo.jobsIn(['running', 'validating_files'])) {
      this.svc.setStatus(j.id, 'queued');
      this.svc.event(j.id, 'warn', 'message', 'The node restarted while the job ran; it will resume from its last checkpoint');
    }
    this.loop = this.work();
  }

  /** The id of the job being trained now, if any. */
  get current(): string | null {
    return this.running?.id ?? null;
  }

  private async work(): Promise<void> {
    while (!this.stopped) {
      const next = this.svc.repo.nextJob(['queued']);
      if (!next) {
        await new Promise<void>((r) => {
          this.wake = r;
          setTimeout(r, 1000).unref(); // also catches jobs queued by another process sharing the store
        });
        this.wake = null;
        continue;
      }
      const ac = new AbortController();
      const done = this.svc.run(next.id, ac.signal).catch((e) => {
        // run() records every failure on the job; anything here is a bug in the recording itself.
        console.error(`factory: job ${next.id}:`, e);
      });
      this.running = { id: next.id, ac, done };
      await done;
      this.running = null;
    }
  }

  /** Pause the running job at its next step (it stays resumable) and stop the worker. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.running?.ac.abort({ stopping: true });
    await this.running?.done;
    await this.loop;
  }
}
