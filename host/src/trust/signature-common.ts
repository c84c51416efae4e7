// What both signature formats tspod checks share (appc detached signatures, containers/image
// simple signing): the hash policy, naming the issuer, and finding the trusted key that signed.
import type { KeyID, SignaturePacket } from 'openpgp';
import { hex, keyUnusableReason, type OpenPGP, type TrustedKey } from './keystore.js';

export const SKIP_HINT = 'or pass --insecure-options=image to skip verification (not recommended)';

/** Hash algorithms a data signature may use (openpgp enums.hash values are looked up by name). */
export const STRONG_HASHES = ['sha256', 'sha384', 'sha512', 'sha224', 'sha3_256', 'sha3_512'] as const;
export const WEAK_HASHES = ['md5', 'sha1', 'ripemd'] as const;

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function hashName(openpgp: OpenPGP, id: number | null): string {
  if (id === null) return 'an unknown hash';
  try {
    return openpgp.enums.read(openpgp.enums.hash, id).toUpperCase().replace('SHA3_', 'SHA3-').replace(/^SHA(\d)/, 'SHA-$1');
  } catch {
    return `hash algorithm ${id}`;
  }
}

/** Key ID or, when the signature carries it (gpg ≥ 2.2 does), the issuer's full fingerprint. */
export function issuerOf(sig: SignaturePacket): { fingerprint: string | null; keyId: string; label: string } {
  const fingerprint = sig.issuerFingerprint ? hex(sig.issuerFingerprint) : null;
  const keyId = sig.issuerKeyID.toHex();
  return { fingerprint, keyId, label: fingerprint ?? `with key ID ${keyId}` };
}

/** The trusted key that holds the issuer (primary key or subkey), checking the fingerprint too. */
export function findSigner(keys: readonly TrustedKey[], sig: SignaturePacket): TrustedKey | undefined {
  const issuerFpr = sig.issuerFingerprint ? hex(sig.issuerFingerprint) : null;
  return keys.find((k) => {
    const matching = k.key.getKeys(sig.issuerKeyID);
    if (matching.length === 0) return false;
    return issuerFpr === null || matching.some((m) => m.getFingerprint().toLowerCase() === issuerFpr);
  });
}

/** The first signer whose key is not usable now (expired or revoked since signing), with why. */
export async function unusableSigner(
  packets: readonly SignaturePacket[], signers: readonly TrustedKey[], now: Date,
): Promise<{ signer: TrustedKey; reason: string } | undefined> {
  for (let i = 0; i < packets.length; i++) {
    const reason = await keyUnusableReason(signers[i]!.key, now, packets[i]!.issuerKeyID as KeyID);
    if (reason !== null) return { signer: signers[i]!, reason };
  }
  return undefined;
}

/** why and hint for unusableSigner's finding; trustHint is the `tspod trust ...` command to suggest. */
export function unusableSignerText(source: string, bad: { signer: TrustedKey; reason: string }, trustHint: string): [string, string] {
  const { signer, reason } = bad;
  const uid = signer.userIds[0] ? ` (${signer.userIds[0]})` : '';
  return [
    `${source} is signed by key ${signer.fingerprint}${uid}, which ${reason}`,
    `ask the publisher for a signature by a current key and trust that key with ${trustHint}; ` +
      `stop trusting this one with \`tspod trust rm ${signer.fingerprint}\``,
  ];
}
