// Signs an unsigned VC with Digital Bazaar's eddsa-jcs-2022 cryptosuite, so that medchain's
// verifier can be checked against a proof it did not make.
//
// Usage: node sign.mjs <unsigned VC file> <Ed25519 seed, hex> <created, RFC 3339>
// Prints the signed VC.
import {readFileSync} from 'node:fs';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {createSignCryptosuite} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
import jsigs from 'jsonld-signatures';
import {documentLoader} from './loader.mjs';

const [file, seedHex, created] = process.argv.slice(2);
const unsigned = JSON.parse(readFileSync(file, 'utf8'));
const keyPair = await Ed25519Multikey.generate({seed: Buffer.from(seedHex, 'hex')});
const did = `did:key:${keyPair.publicKeyMultibase}`;
keyPair.controller = did;
keyPair.id = `${did}#${keyPair.publicKeyMultibase}`;
const suite = new DataIntegrityProof({
  signer: keyPair.signer(), cryptosuite: createSignCryptosuite(), date: created
});
const signed = await jsigs.sign(unsigned, {
  suite, purpose: new jsigs.purposes.AssertionProofPurpose(), documentLoader
});
console.log(JSON.stringify(signed));
