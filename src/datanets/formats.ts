import { z } from 'zod';

/**
 * The four data formats a datanet can hold, fixed at creation. Each has a zod schema for one row, a
 * canonical field order (so a row has one byte encoding and one content hash), the text that dedup
 * and attribution look at, and the training-export shape.
 *
 *   text      { text }                                     plain text (pretraining / RAG)
 *   alpaca    { instruction, input?, output }              instruction/response pairs
 *   sharegpt  { system?, conversations: [{from, value}] }  chat conversations
 *   labelled  { text, label }                              labelled text for classification
 */
export const FORMATS = ['text', 'alpaca', 'sharegpt', 'labelled'] as const;
export type DataFormat = (typeof FORMATS)[number];

const nonEmpty = z.string().refine((s) => s.trim().length > 0, { message: 'must not be empty' });

export const TextRow = z.strictObject({ text: nonEmpty });
export const AlpacaRow = z.strictObject({ instruction: nonEmpty, input: z.string().optional(), output: nonEmpty });
export const ShareGptTurn = z.strictObject({ from: z.enum(['system', 'human', 'gpt']), value: nonEmpty });
export const ShareGptRow = z.strictObject({
  system: z.string().optional(),
  conversations: z
    .array(ShareGptTurn)
    .min(2, { message: 'a conversation needs at least one human turn and one gpt turn' })
    .refine((c) => c.some((t) => t.from === 'human') && c.some((t) => t.from === 'gpt'), {
      message: 'a conversation needs at least one human turn and one gpt turn',
    }),
});
export const LabelledRow = z.strictObject({ text: nonEmpty, label: nonEmpty });

export type TextRow = z.infer<typeof TextRow>;
export type AlpacaRow = z.infer<typeof AlpacaRow>;
export type ShareGptRow = z.infer<typeof ShareGptRow>;
export type LabelledRow = z.infer<typeof LabelledRow>;
export type RowData = TextRow | AlpacaRow | ShareGptRow | LabelledRow;

export const ROW_SCHEMAS: Record<DataFormat, z.ZodType<RowData>> = {
  text: TextRow,
  alpaca: AlpacaRow,
  sharegpt: ShareGptRow,
  labelled: LabelledRow,
};

/** Columns a CSV must carry per format (sharegpt has nested turns and is not accepted as CSV). */
export const CSV_COLUMNS: Record<DataFormat, { required: string[]; optional: string[] } | null> = {
  text: { required: ['text'], optional: [] },
  alpaca: { required: ['instruction', 'output'], optional: ['input'] },
  sharegpt: null,
  labelled: { required: ['text', 'label'], optional: [] },
};

/**
 * The row with its fields in canonical order and optional empty fields dropped, so that
 * `JSON.stringify(canonicalRow(...))` is the one encoding we hash.
 */
export function canonicalRow(format: DataFormat, row: RowData): RowData {
  switch (format) {
    case 'text':
      return { text: (row as TextRow).text };
    case 'alpaca': {
      const r = row as AlpacaRow;
      return r.input && r.input.length > 0 ? { instruction: r.instruction, input: r.input, output: r.output } : { instruction: r.instruction, output: r.output };
    }
    case 'sharegpt': {
      const r = row as ShareGptRow;
      const conversations = r.conversations.map((t) => ({ from: t.from, value: t.value }));
      return r.system && r.system.length > 0 ? { system: r.system, conversations } : { conversations };
    }
    case 'labelled': {
      const r = row as LabelledRow;
      return { text: r.text, label: r.label };
    }
  }
}

/**
 * The text a row contributes: what dedup compares and what span attribution searches. Labels are
 * left out on purpose, so that the same sentence with a different label counts as a duplicate.
 */
export function rowText(format: DataFormat, row: RowData): string {
  switch (format) {
    case 'text':
    case 'labelled':
      return (row as TextRow).text;
    case 'alpaca': {
      const r = row as AlpacaRow;
      return [r.instruction, r.input ?? '', r.output].filter((s) => s.length > 0).join('\n');
    }
    case 'sharegpt': {
      const r = row as ShareGptRow;
      return [r.system ?? '', ...r.conversations.map((t) => t.value)].filter((s) => s.length > 0).join('\n');
    }
  }
}
