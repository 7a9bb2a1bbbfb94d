/** Fixed test keys, the same in every runtime, so envelopes made in one decrypt in another. */
import { unhex } from './harness.js';

export const AES_KEY_NAME = 'test/aes-1';
export const AES_KEY = unhex('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f');
export const AES_KEY_NAME_2 = 'test/aes-2';
export const AES_KEY_2 = unhex('f0e0d0c0b0a090807060504030201000f1e1d1c1b1a191817161514131211101');

let rsa: Promise<{ publicKey: Uint8Array; privateKey: Uint8Array }> | undefined;

/** A 2048-bit pair generated once per process (RSA key generation is slow in some runtimes). */
export function rsaTestPair(): Promise<{ publicKey: Uint8Array; privateKey: Uint8Array }> {
  rsa ??= (async () => {
    const pair = (await crypto.subtle.generateKey(
      { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
      true,
      ['encrypt', 'decrypt'],
    )) as CryptoKeyPair;
    return {
      publicKey: new Uint8Array(await crypto.subtle.exportKey('spki', pair.publicKey)),
      privateKey: new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey)),
    };
  })();
  return rsa;
}
