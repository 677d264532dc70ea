/* kaibiao: gcm128.c includes OpenSSL's internal cryptlib.h (BIO, ASN.1, errors...) but uses none of
 * it; what it does use comes from openssl/crypto.h. */
#include <openssl/crypto.h>
