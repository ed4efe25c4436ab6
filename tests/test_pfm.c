/*
 * test_pfm.c — event names to perf_event attributes (harness/pfm.c).
 *
 * Nothing here opens a counter: encoding works without a PMU. The `inactive`
 * suite sets LIBPFM_ENCODE_INACTIVE=1 in its init (before libpfm is
 * initialized; Criterion runs each test in its own process) so that other
 * vendors' tables encode; the `active` suite clears it to see how an
 * inactive table is reported. Built without libpfm, only the perf:: table
 * exists and the libpfm-only tests skip.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "groups.h"
#include "pfm.h"

static void inactive_on(void)
{
    setenv("LIBPFM_ENCODE_INACTIVE", "1", 1);
}

static void inactive_off(void)
{
    unsetenv("LIBPFM_ENCODE_INACTIVE");
}

TestSuite(inactive, .init = inactive_on);
TestSuite(active, .init = inactive_off);

Test(inactive, init_is_idempotent)
{
    char msg[256] = "";

    cr_expect_eq(qkperf_pfm_init(msg, sizeof(msg)), 0, "%s", msg);
    cr_expect_eq(qkperf_pfm_init(msg, sizeof(msg)), 0, "%s", msg);
}

Test(inactive, software_event)
{
    struct perf_event_attr attr;
    char msg[256] = "";

    cr_assert_eq(qkperf_pfm_encode("perf::PERF_COUNT_SW_TASK_CLOCK", &attr, msg, sizeof(msg)),
                 QKPERF_PFM_OK, "%s", msg);
    cr_expect_eq(attr.type, PERF_TYPE_SOFTWARE);
    cr_expect_eq(attr.config, PERF_COUNT_SW_TASK_CLOCK);
    cr_expect_eq(attr.size, sizeof(attr));
    cr_expect(attr.exclude_kernel, "PFM_PLM3 means user level only");
}

Test(inactive, generic_cache_event)
{
    struct perf_event_attr attr;
    char msg[256] = "";

    cr_assert_eq(
        qkperf_pfm_encode("perf::PERF_COUNT_HW_CACHE_L1D:READ:MISS", &attr, msg, sizeof(msg)),
        QKPERF_PFM_OK, "%s", msg);
    cr_expect_eq(attr.type, PERF_TYPE_HW_CACHE);
    cr_expect_eq(attr.config, 0x10000);
}

Test(inactive, zen4_event_is_raw)
{
#ifdef HAVE_LIBPFM
    struct perf_event_attr attr;
    char msg[256] = "";

    cr_assert_eq(
        qkperf_pfm_encode("amd64_fam19h_zen4::RETIRED_INSTRUCTIONS", &attr, msg, sizeof(msg)),
        QKPERF_PFM_OK, "%s", msg);
    cr_expect_eq(attr.type, PERF_TYPE_RAW);
    cr_expect_eq(attr.config & 0xff, 0xc0, "RETIRED_INSTRUCTIONS is PMCx0C0");
    cr_expect_eq(qkperf_pfm_num_counters("amd64_fam19h_zen4::RETIRED_INSTRUCTIONS"), 6);
#else
    cr_skip_test("built without libpfm");
#endif
}

Test(inactive, unknown_event)
{
    struct perf_event_attr attr;
    char msg[256] = "";
    int ret = qkperf_pfm_encode("amd64_fam19h_zen4::NO_SUCH_EVENT", &attr, msg, sizeof(msg));

#ifdef HAVE_LIBPFM
    cr_expect_eq(ret, QKPERF_PFM_UNKNOWN);
#else
    cr_expect_eq(ret, QKPERF_PFM_NOLIB);
#endif
    cr_expect_not_null(strstr(msg, "amd64_fam19h_zen4::NO_SUCH_EVENT"), "%s", msg);
}

Test(inactive, bad_unit_mask)
{
#ifdef HAVE_LIBPFM
    struct perf_event_attr attr;
    char msg[256] = "";

    /* The bare name needs a unit mask (events.md). */
    cr_expect_eq(qkperf_pfm_encode("amd64_fam19h_zen4::ANY_DATA_CACHE_FILLS_FROM_SYSTEM", &attr,
                                   msg, sizeof(msg)),
                 QKPERF_PFM_BADATTR, "%s", msg);
    cr_expect_eq(qkperf_pfm_encode("icl::TOPDOWN:NO_SUCH_UMASK", &attr, msg, sizeof(msg)),
                 QKPERF_PFM_BADATTR, "%s", msg);
#else
    cr_skip_test("built without libpfm");
#endif
}

Test(inactive, host_groups_dir)
{
    static const char *const known[] = {"icl", "skl", "zen3", "zen4", "perf"};
    const char *dir = qkperf_group_host_folder(NULL);
    int found = 0;

    cr_assert_not_null(dir);
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
        found |= strcmp(dir, known[i]) == 0;
    cr_expect(found, "groups dir '%s' is not one of the five folders", dir);
    if (qkperf_pfm_host_pmu() == NULL)
        cr_expect_str_eq(dir, "perf");
}

#ifdef HAVE_LIBPFM
/* An event of a table that is not the host's, so inactive here. */
static const char *foreign_event(void)
{
    const char *host = qkperf_pfm_host_pmu();

    return host && strcmp(host, "icl") == 0 ? "amd64_fam19h_zen4::RETIRED_OPS"
                                            : "icl::INST_RETIRED:ANY_P";
}
#endif

Test(active, inactive_table_is_reported)
{
#ifdef HAVE_LIBPFM
    struct perf_event_attr attr;
    char msg[512] = "";
    const char *name = foreign_event();

    cr_expect_eq(qkperf_pfm_encode(name, &attr, msg, sizeof(msg)), QKPERF_PFM_INACTIVE, "%s", msg);
    cr_expect_not_null(strstr(msg, name), "%s", msg);
    cr_expect_not_null(strstr(msg, "LIBPFM_ENCODE_INACTIVE=1"), "%s", msg);
#else
    cr_skip_test("built without libpfm");
#endif
}

Test(active, no_prefix_unknown_event)
{
    struct perf_event_attr attr;
    char msg[256] = "";
    int ret = qkperf_pfm_encode("NO_SUCH_EVENT_ANYWHERE", &attr, msg, sizeof(msg));

#ifdef HAVE_LIBPFM
    cr_expect_eq(ret, QKPERF_PFM_UNKNOWN, "%s", msg);
#else
    cr_expect_eq(ret, QKPERF_PFM_NOLIB, "%s", msg);
#endif
    cr_expect_not_null(strstr(msg, "NO_SUCH_EVENT_ANYWHERE"), "%s", msg);
}
