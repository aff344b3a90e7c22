// Validates EPCIS 2.0 documents against GS1's EPCIS 2.0 JSON schema with epcis2.js.
// Reads a JSON list of documents from the file named by the first argument and prints a JSON
// list of {"success": bool, "errors": [...]}, one per document.
const { validateEpcisDocument } = require('epcis2.js');
const fs = require('node:fs');

const documents = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const results = documents.map((document) => {
  const result = validateEpcisDocument(document, false);
  return { success: result.success, errors: result.errors || [] };
});
process.stdout.write(JSON.stringify(results));
