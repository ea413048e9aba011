/**
 * The control block shared by the calling thread and the pool's workers: an Int32Array over a
 * SharedArrayBuffer. One job at a time; the caller writes OP and ARGS, resets DONE, bumps SEQ and
 * notifies; each worker runs its part, adds 1 to DONE and (the last one) notifies.
 * worker.js repeats these constants (it is plain JS so workers start without a TS loader).
 */
export const CTL = {
  SEQ: 0, // job generation; workers wait for it to change
  DONE: 1, // workers finished with the current job
  OP: 2,
  PARTS: 3, // parts of the job: part 0 is the caller, part i+1 is worker i
  ERR: 4, // 1 + index of a worker that threw (0 = none)
  ARGS: 8, // up to 24 i32 arguments
  READY: 32, // READY + i = 1 once worker i has instantiated the module
  SIZE: 64 + 32, // ints; up to 64 workers
} as const;

export const OP = { MATMUL_FLOAT: 1, MATMUL_Q8_0: 2, MATMUL_Q4_0: 3, ATTENTION: 4, EXIT: 255 } as const;

/**
 * Rows [n0, n1) of part p when N output rows are split into `parts`, in multiples of 4 (the
 * float path's weight-row group), so no group straddles two threads.
 */
export function partRange(N: number, parts: number, p: number): [number, number] {
  const chunk = Math.ceil(N / parts / 4) * 4;
  const n0 = Math.min(N, p * chunk);
  return [n0, Math.min(N, n0 + chunk)];
}

/** Query heads [h0, h1) of part p for attention. */
export function headRange(H: number, parts: number, p: number): [number, number] {
  const chunk = Math.ceil(H / parts);
  const h0 = Math.min(H, p * chunk);
  return [h0, Math.min(H, h0 + chunk)];
}
