// Vite's ways of bundling text files into a test (test/integration/docs.test.ts reads the docs).
declare module "*.md?raw" {
  const text: string;
  export default text;
}

interface ImportMeta {
  glob<T>(pattern: string, options: { query: "?raw"; import: "default"; eager: true }): Record<string, T>;
}
