/**
 * The outcome of normalising one value: the canonical form, or the reason it was rejected.
 * Normalisers return this instead of throwing, because a feed of a million lines may hold
 * many bad ones and each is only reported.
 */
export type Normalised<T> = { ok: true; value: T } | { ok: false; reason: string };

export function accept<T>(value: T): Normalised<T> {
  return { ok: true, value };
}

export function reject<T = never>(reason: string): Normalised<T> {
  return { ok: false, reason };
}

/** Longest input a normaliser looks at, in UTF-16 code units; longer input is rejected. */
export const MAX_INPUT_LENGTH = 8192;

/** Quotes a value for a message, cut to 80 characters so a huge input stays readable. */
export function quote(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(shown);
}

/** Rejects input longer than MAX_INPUT_LENGTH, naming what it was meant to be. */
export function tooLong(value: string, what: string): Normalised<never> | undefined {
  if (value.length <= MAX_INPUT_LENGTH) return undefined;
  return reject(
    `${quote(value)} is ${value.length} characters long, more than the ${MAX_INPUT_LENGTH} a ${what} may have`,
  );
}
