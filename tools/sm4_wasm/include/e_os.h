/* kaibiao: crypto/cpuid.c's e_os.h; of it cpuid.c's portable part needs only the integer types. */
#include <openssl/e_os2.h>
