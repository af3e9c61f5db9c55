/** One disagreement between Cairn and the oracle. */
export interface Finding {
  /** The token or user key, with role and organisation where known. */
  caller: string;
  /** The request or read path, e.g. `GET objects/?match[version]=all`. */
  path: string;
  /** The object id and version, or the collection, involved. */
  object: string;
  /** The rule of docs/sharing.md that decides the case. */
  rule: string;
  detail: string;
}

/** Formats findings one per line for an assertion message. */
export function formatFindings(findings: readonly Finding[], max = 20): string {
  const lines = findings
    .slice(0, max)
    .map((f) => `- ${f.caller} | ${f.path} | ${f.object} | ${f.rule} | ${f.detail}`);
  if (findings.length > max) lines.push(`… and ${findings.length - max} more`);
  return lines.join('\n');
}
