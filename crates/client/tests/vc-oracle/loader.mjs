// A JSON-LD document loader that works offline: the VC, DID and Data Integrity contexts come
// from their npm packages, and did:key URLs resolve to Multikey verification methods.
import {securityLoader} from '@digitalbazaar/security-document-loader';
import dataIntegrityContext from '@digitalbazaar/data-integrity-context';

const loader = securityLoader();
loader.addStatic(dataIntegrityContext.CONTEXT_URL, dataIntegrityContext.CONTEXT);
const base = loader.build();

export function didKeyMethod(did) {
  const key = did.slice('did:key:'.length);
  return {
    '@context': 'https://w3id.org/security/multikey/v1',
    id: `${did}#${key}`,
    type: 'Multikey',
    controller: did,
    publicKeyMultibase: key
  };
}

export async function documentLoader(url) {
  if(url.startsWith('did:key:z6Mk')) {
    const [did, fragment] = url.split('#');
    const method = didKeyMethod(did);
    const document = fragment ? method : {
      '@context': [
        'https://www.w3.org/ns/did/v1', 'https://w3id.org/security/multikey/v1'
      ],
      id: did,
      verificationMethod: [method],
      assertionMethod: [method.id]
    };
    return {contextUrl: null, documentUrl: url, document};
  }
  return base(url);
}
