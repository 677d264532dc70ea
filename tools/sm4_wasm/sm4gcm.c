/*
 * kaibiao's shim around OpenSSL's SM4 (crypto/sm4/sm4.c) and GCM (crypto/modes/gcm128.c), built to
 * WebAssembly by tools/build_sm4_wasm.py for the browser's SM4 workers (crypto/sm4_wasm.js).
 * No cryptography is written here: the key schedule, the block cipher, GHASH, the counter mode and
 * the tag check are OpenSSL's functions; this file only holds one key's state and moves buffers.
 *
 * One key at a time (a worker seals with one payload key). Buffers live in the module's memory,
 * from sm4gcm_heap_base() up, placed by the caller: the 12-byte nonce, the AAD, and the data,
 * which is en- or decrypted in place with its 16-byte tag right after it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "crypto/sm4.h"
#include "crypto/modes.h"

#define EXPORT(name) __attribute__((export_name(#name))) name

#define NONCE_SIZE 12
#define TAG_SIZE 16

static SM4_KEY key;
static GCM128_CONTEXT gcm;
extern unsigned char __heap_base; /* the linker's: the first byte above the stack and the data */

uintptr_t EXPORT(sm4gcm_heap_base)(void)
{
    return (uintptr_t)&__heap_base;
}

/* Take the 16-byte key: SM4's round keys, and GCM's hash key H (OpenSSL's init encrypts 0^128). */
void EXPORT(sm4gcm_set_key)(const uint8_t *k)
{
    ossl_sm4_set_key(k, &key);
    CRYPTO_gcm128_init(&gcm, &key, (block128_f)ossl_sm4_encrypt);
}

/* SM4 of one 16-byte block, in place, under the key set (for the standard's own example, GB/T
 * 32907 A.1 and A.2, which are of the block cipher; the sealing path never calls it). */
void EXPORT(sm4gcm_block)(uint8_t *block)
{
    ossl_sm4_encrypt(block, block, &key);
}

/* Forget the key: the round keys and H. */
void EXPORT(sm4gcm_clear)(void)
{
    memset(&key, 0, sizeof(key));
    memset(&gcm, 0, sizeof(gcm));
}

/* data[0, len) → its ciphertext, in place, and the tag at data + len. 0, or -1 (too long). */
int EXPORT(sm4gcm_seal)(const uint8_t *nonce, const uint8_t *aad, size_t aad_len, uint8_t *data,
                        size_t len)
{
    CRYPTO_gcm128_setiv(&gcm, nonce, NONCE_SIZE);
    if (aad_len && CRYPTO_gcm128_aad(&gcm, aad, aad_len) != 0)
        return -1;
    if (CRYPTO_gcm128_encrypt(&gcm, data, data, len) != 0)
        return -1;
    CRYPTO_gcm128_tag(&gcm, data + len, TAG_SIZE);
    return 0;
}

/* data[0, len) with its tag at data + len → the plaintext, in place, if the tag is right (0);
 * otherwise -1 and the len bytes are zeroed (no unauthenticated plaintext is left). */
int EXPORT(sm4gcm_open)(const uint8_t *nonce, const uint8_t *aad, size_t aad_len, uint8_t *data,
                        size_t len)
{
    CRYPTO_gcm128_setiv(&gcm, nonce, NONCE_SIZE);
    if ((aad_len && CRYPTO_gcm128_aad(&gcm, aad, aad_len) != 0)
        || CRYPTO_gcm128_decrypt(&gcm, data, data, len) != 0
        || CRYPTO_gcm128_finish(&gcm, data + len, TAG_SIZE) != 0) {
        memset(data, 0, len);
        return -1;
    }
    return 0;
}
