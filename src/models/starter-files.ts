/**
 * Where the shipped starter model lives and whether it is there: the facts the catalog needs about
 * the starter, in a file of their own so that catalog.ts and starter.ts do not import each other.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const STARTER_NAME = 'starter';
/** models/starter/ in this checkout (or installed package). */
export const STARTER_DIR = resolve(import.meta.dirname, '../../models/starter');

export function starterShipped(dir = STARTER_DIR): boolean {
  return existsSync(join(dir, 'model.safetensors')) && existsSync(join(dir, 'recipe.json'));
}
