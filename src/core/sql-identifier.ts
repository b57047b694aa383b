// SQL identifiers from config (schema, table and column names): only plain lower-case names
// are accepted, and they are still quoted wherever SQL text is built from them.

const IDENT = /^[a-z_][a-z0-9_]{0,62}$/;

export function isValidIdentifier(name: string): boolean {
  return IDENT.test(name);
}

export function quoteIdent(name: string): string {
  if (!isValidIdentifier(name)) throw new Error(`invalid SQL identifier: ${JSON.stringify(name)}`);
  return `"${name}"`;
}
