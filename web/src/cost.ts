/** Cost of an answer in wei: tokens × the model's price per 1k tokens / 1000 (integer, rounded down). No imports (tested by the node's tests). */
export function costWei(m: { price_per_1k_input?: string; price_per_1k_output?: string } | undefined, u: { prompt_tokens: number; completion_tokens: number }): bigint {
  const pin = BigInt(m?.price_per_1k_input ?? '0'), pout = BigInt(m?.price_per_1k_output ?? '0');
  return (BigInt(u.prompt_tokens) * pin + BigInt(u.completion_tokens) * pout) / 1000n;
}
