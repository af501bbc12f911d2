/* Every call of libmtvir once, as a player process would make them (run under `env -i`, from any folder).
 *
 *   env_check EL ok       the library starts: the EL opens, info and provider are real, a plane is enhanced
 *   env_check EL broken   its environment cannot start: every call fails with MTVIR_ERR_ENVIRONMENT, says why,
 *                         writes nothing (info and plane untouched), and nothing is mistaken for success
 * Prints one line per check; exits 0 when all of them hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtvir.h"

static int failures;

static void check(int ok, const char *what)
{
    printf("%s %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        failures++;
}

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[2], "ok") && strcmp(argv[2], "broken"))) {
        fprintf(stderr, "usage: env_check EL ok|broken\n");
        return 2;
    }
    int broken = !strcmp(argv[2], "broken");
    check(mtvir_abi_version() == MTVIR_ABI_VERSION, "abi version answers");
    check(mtvir_version() && *mtvir_version(), "version answers");

    mtvir_el *el = (mtvir_el *)0x1;  /* a sentinel: must stay as it is on failure */
    int rc = mtvir_open_file(argv[1], &el);
    const char *why = mtvir_last_error();
    if (broken) {
        check(rc == MTVIR_ERR_ENVIRONMENT && el == (mtvir_el *)0x1, "open fails with MTVIR_ERR_ENVIRONMENT");
        check(why && strstr(why, "could not start its Python environment"), "last_error says why");
        printf("reason: %s\n", why ? why : "(null)");
        static const uint8_t bytes[16];
        check(mtvir_open_memory(bytes, sizeof bytes, &el) == MTVIR_ERR_ENVIRONMENT, "open_memory fails too");
    } else {
        check(rc == MTVIR_OK && el != (mtvir_el *)0x1, "open succeeds");
    }

    mtvir_info info;
    memset(&info, 0x5a, sizeof info);
    mtvir_info sentinel = info;
    rc = mtvir_get_info(el, &info);
    if (broken)
        check(rc == MTVIR_ERR_ENVIRONMENT && !memcmp(&info, &sentinel, sizeof info), "get_info writes no info");
    else
        check(rc == MTVIR_OK && info.width == 64 && info.height == 48 && info.bit_depth == 8 && info.groups == 1,
              "get_info gives the EL's facts");

    const char *provider = mtvir_provider(el);
    check(broken ? provider == NULL : provider && strstr(provider, "ExecutionProvider") != NULL, "provider");

    uint8_t plane[48][64], before[48][64];
    for (int y = 0; y < 48; y++)
        for (int x = 0; x < 64; x++)
            plane[y][x] = before[y][x] = (uint8_t)((x * 7 + y * 13) % 256);
    rc = mtvir_enhance(el, plane, 64, 64, 48, 8, 0);
    if (broken)
        check(rc == MTVIR_ERR_ENVIRONMENT && !memcmp(plane, before, sizeof plane), "enhance leaves the plane");
    else
        check(rc == MTVIR_OK && memcmp(plane, before, sizeof plane), "enhance changes the plane");

    if (!broken)
        mtvir_close(el);
    else
        mtvir_close(NULL);
    printf("%d failed\n", failures);
    return failures ? 1 : 0;
}
