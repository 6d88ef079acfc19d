/**
 * How backends show keys in error messages: control characters rendered
 * visibly (`\x0a`), so a hostile key cannot forge log lines or hide what it
 * is. Pure.
 */
export function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
