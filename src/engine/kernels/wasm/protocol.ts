/**
 * The control block shared by the calling thread and the pool's workers: an Int32Array over a
 * SharedArrayBuffer, one job at a time. A job is cut into chunks (row ranges of a matmul, head
 * ranges of attention) that the caller and the workers claim with Atomics.add on NEXT — so a
 * worker the OS has not scheduled yet never holds the job up: the caller claims the remaining
 * chunks itself and waits only for chunks already claimed (DONE counts finished chunks).
 *
 * NEXT packs (chunks << 16) | claimed, so one atomic add tells a claimant both which chunk it
 * got and how many the job has — a worker waking late cannot mix one job's count with
 * another's claim. NEXT = 0 means no open job (0 chunks: every claim comes back empty).
 * Posting (caller): NEXT = 0, write OP/ARGS, DONE = 0, NEXT = chunks << 16, SEQ += 1, notify.
 * The caller returns only when DONE = chunks, so OP/ARGS never change under a running chunk.
 * worker.js repeats these constants (it is plain JS so workers start without a TS loader).
 */
export const CTL = {
  SEQ: 0, // job generation; idle workers sleep on it
  DONE: 1, // chunks finished
  OP: 2,
  ERR: 4, // 1 + thread index of a chunk that trapped (0 = none)
  NEXT: 5, // (chunks << 16) | claimed
  ARGS: 8, // up to 24 i32 arguments
  READY: 32, // READY + i = 1 once worker i has instantiated the module
  SIZE: 64 + 32, // ints; up to 64 workers
} as const;

/** At most this many chunks per job (the claim counter's 16 bits, minus room for late claims). */
export const MAX_CHUNKS = 32000;

export const OP = { MATMUL_FLOAT: 1, MATMUL_Q8_0: 2, MATMUL_Q4_0: 3, ATTENTION: 4, MATMUL_Q45K: 5, MATMUL_Q6K: 6, MATMUL_KQ_BATCH: 7, EXIT: 255 } as const;

/**
 * Rows [n0, n1) of chunk c when N output rows are cut into `chunks`, in multiples of 4 (the
 * kernels' weight-row group), so no group straddles two chunks.
 */
export function rowRange(N: number, chunks: number, c: number): [number, number] {
  const size = Math.ceil(N / chunks / 4) * 4;
  const n0 = Math.min(N, c * size);
  return [n0, Math.min(N, n0 + size)];
}

/** Query heads [h0, h1) of chunk c for attention. */
export function headRange(H: number, chunks: number, c: number): [number, number] {
  const size = Math.ceil(H / chunks);
  const h0 = Math.min(H, c * size);
  return [h0, Math.min(H, h0 + size)];
}
