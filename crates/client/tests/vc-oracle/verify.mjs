// Verifies VCs with Digital Bazaar's eddsa-jcs-2022 cryptosuite, data-integrity and vc
// libraries: an implementation of the W3C specifications that is not medchain's.
//
// Usage: node verify.mjs <file holding a JSON array of VCs>
// Prints a JSON array with one {verified, error} per VC, in order.
import {readFileSync} from 'node:fs';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createVerifyCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import {documentLoader} from './loader.mjs';
import * as vc from '@digitalbazaar/vc';

const credentials = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const results = [];
for(const credential of credentials) {
  const suite = new DataIntegrityProof({cryptosuite: createVerifyCryptosuite()});
  try {
    const result = await vc.verifyCredential({
      credential, suite, documentLoader,
      // medchain's status entry points at the chain; the Rust side checks it.
      checkStatus: async () => ({verified: true})
    });
    const errors = [result.error, ...(result.results ?? []).map(r => r.error)]
      .filter(Boolean).map(e => String(e.errors ?? e.message ?? e));
    results.push({verified: result.verified, error: errors.join('; ') || null});
  } catch(e) {
    results.push({verified: false, error: String(e.message ?? e)});
  }
}
console.log(JSON.stringify(results));
