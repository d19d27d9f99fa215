/* hostfacts: a host's PCI functions and IOMMU groups as JSON, from sysfs alone -- the "devices"
 * and "groups" parts of the host report (docs/hostval.md), written by tools/hostval/collect.sh.
 * Statically linked, so it runs in a minimal initramfs or on a lab machine without the project's
 * build, and with no library beyond libc.
 *
 *   hostfacts [--root DIR] [--members]   devices and groups (reads DIR/sys, default /sys)
 *   hostfacts --json-string FILE         FILE's text as one JSON string ("-": standard input)
 *   hostfacts --json-lines FILE          FILE's lines as a JSON array of strings
 *   hostfacts --json-valid FILE          exit 0 when FILE holds one well-formed JSON value
 *
 * --members prints the two members without the enclosing braces, for embedding in a larger
 * object. The capability registers come from each function's sysfs "config" file: root reads all
 * 4096 bytes, anyone else only the first 64, and then the PCIe type and ACS are unknown (printed
 * as null, with a warning). Exit status: 0; 1 when something could not be read (the JSON is still
 * printed, a warning on standard error says what), or the --json-* input is unreadable/invalid;
 * 2 for bad usage. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_text.h"

/* Configuration space (PCI 3.0 6.1, PCIe 7.5, include/uapi/linux/pci_regs.h) */
enum {
	CFG_STATUS = 0x06,
	CFG_HEADER_TYPE = 0x0e,
	CFG_CAP_LIST = 0x34,
	CFG_CARDBUS_CAP_LIST = 0x14,
	STATUS_CAP_LIST = 0x10,
	CAP_ID_EXP = 0x10,           /* PCI Express capability */
	EXP_FLAGS = 0x02,            /* PCIe Capabilities register; Device/Port Type in bits 7:4 */
	EXT_CAP_START = 0x100,
	EXT_CAP_ID_ACS = 0x000d,     /* PCIe 7.7.8 ACS Extended Capability */
	ACS_CAP = 0x04,
	ACS_CTRL = 0x06,
	CFG_SPACE_EXP_SIZE = 4096,
};

#define MAX_FUNCTIONS 4096

struct function {
	char bdf[32];
	unsigned char cfg[CFG_SPACE_EXP_SIZE];
	size_t cfg_len;   /* bytes read */
	long cfg_size;    /* the config file's size: 256 or 4096 (-1 unknown) */
};

static int warnings;

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void warn(const char *fmt, ...)
{
	va_list ap;
	fputs("hostfacts: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	++warnings;
}

static unsigned cfg8(const struct function *f, unsigned off)
{
	return off < f->cfg_len ? f->cfg[off] : 0;
}

static unsigned cfg16(const struct function *f, unsigned off)
{
	return cfg8(f, off) | cfg8(f, off + 1) << 8;
}

static uint32_t cfg32(const struct function *f, unsigned off)
{
	return (uint32_t)cfg16(f, off) | (uint32_t)cfg16(f, off + 2) << 16;
}

/* "a/b" into buf; 0, or -ENAMETOOLONG (and a warning) when it does not fit. */
static int join(char *buf, size_t size, const char *a, const char *b)
{
	int n = snprintf(buf, size, "%s/%s", a, b);
	if (n < 0 || (size_t)n >= size) {
		warn("path too long: %s/%s", a, b);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* The first line of a small sysfs attribute, without its newline; 0 or -errno. */
static int read_attr(const char *dir, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX];
	if (join(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	FILE *f = fopen(path, "r");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)size, f))
		buf[0] = 0;
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The last component of a symlink's target (driver, iommu_group), or -errno. */
static int link_name(const char *dir, const char *name, char *buf, size_t size)
{
	char path[PATH_MAX], target[PATH_MAX];
	if (join(path, sizeof(path), dir, name))
		return -ENAMETOOLONG;
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = 0;
	const char *slash = strrchr(target, '/');
	snprintf(buf, size, "%s", slash ? slash + 1 : target);
	return 0;
}

static void read_config(const char *dir, struct function *f)
{
	char path[PATH_MAX];
	f->cfg_len = 0;
	f->cfg_size = -1;
	if (join(path, sizeof(path), dir, "config"))
		return;
	FILE *c = fopen(path, "rb");
	if (!c) {
		warn("%s: cannot open %s: %s", f->bdf, path, strerror(errno));
		return;
	}
	struct stat st;
	if (fstat(fileno(c), &st) == 0)
		f->cfg_size = (long)st.st_size;
	f->cfg_len = fread(f->cfg, 1, sizeof(f->cfg), c);
	fclose(c);
	if (f->cfg_len < 64)
		warn("%s: read only %zu bytes of %s", f->bdf, f->cfg_len, path);
	else if (f->cfg_size > 0 && (long)f->cfg_len < f->cfg_size && f->cfg_len < sizeof(f->cfg))
		warn("%s: read %zu of %ld bytes of %s (not root?): PCIe type and ACS unknown",
		     f->bdf, f->cfg_len, f->cfg_size, path);
}

/* The PCIe capability's offset, or 0 (PCI 3.0 6.7: the capability list). */
static unsigned find_pcie_cap(const struct function *f)
{
	if (!(cfg16(f, CFG_STATUS) & STATUS_CAP_LIST))
		return 0;
	unsigned pos = cfg8(f, (cfg8(f, CFG_HEADER_TYPE) & 0x7f) == 2 ? CFG_CARDBUS_CAP_LIST : CFG_CAP_LIST);
	for (int guard = 0; pos >= 0x40 && guard < 48; ++guard) {
		pos &= ~3u;
		if (cfg8(f, pos) == CAP_ID_EXP)
			return pos;
		pos = cfg8(f, pos + 1);
	}
	return 0;
}

/* The ACS extended capability's offset, or 0 (PCIe 7.6.3: the extended capability list). */
static unsigned find_acs_cap(const struct function *f)
{
	unsigned pos = EXT_CAP_START;
	for (int guard = 0; pos >= EXT_CAP_START && pos + 8 <= f->cfg_len && guard < 512; ++guard) {
		uint32_t h = cfg32(f, pos);
		if (h == 0 || h == 0xffffffffu)
			return 0;
		if ((h & 0xffff) == EXT_CAP_ID_ACS)
			return pos;
		pos = (h >> 20) & ~3u;
	}
	return 0;
}

/* PCIe 7.5.3.2 Device/Port Type, as docs/hostval.md names it. */
static const char *const port_type_names[16] = {
	[0x0] = "endpoint", [0x1] = "legacy_endpoint", [0x4] = "root_port", [0x5] = "upstream_port",
	[0x6] = "downstream_port", [0x7] = "pcie_to_pci_bridge", [0x8] = "pci_to_pcie_bridge",
	[0x9] = "rc_integrated_endpoint", [0xa] = "rc_event_collector",
};

/* "0x1234" from a sysfs id attribute, or from config space when the attribute is missing. */
static void print_id(const char *dir, const char *attr, const struct function *f, unsigned off,
		     unsigned bytes, int digits)
{
	char buf[64];
	unsigned long v;
	if (read_attr(dir, attr, buf, sizeof(buf)) == 0 && buf[0]) {
		char *end;
		v = strtoul(buf, &end, 16);
		if (*end)
			warn("%s: %s/%s is '%s', not a number", f->bdf, dir, attr, buf);
	} else {
		v = bytes == 2 ? cfg16(f, off) : cfg32(f, off) >> 8;
	}
	printf("\"0x%0*lx\"", digits, v);
}

static void print_device(const char *dir, struct function *f)
{
	char buf[PATH_MAX];
	read_config(dir, f);
	const int config_known = f->cfg_len >= 64;
	const int caps_known = f->cfg_len >= 256 || (f->cfg_size > 0 && (long)f->cfg_len >= f->cfg_size);

	printf("    {\"bdf\": \"%s\", \"vendor\": ", f->bdf);
	print_id(dir, "vendor", f, 0x00, 2, 4);
	fputs(", \"device\": ", stdout);
	print_id(dir, "device", f, 0x02, 2, 4);
	fputs(", \"class\": ", stdout);
	print_id(dir, "class", f, 0x08, 3, 6);
	if (config_known)
		printf(", \"header_type\": \"0x%02x\"", cfg8(f, CFG_HEADER_TYPE) & 0x7f);
	else
		fputs(", \"header_type\": null", stdout);

	const unsigned exp = caps_known ? find_pcie_cap(f) : 0;
	if (exp) {
		const unsigned type = (cfg16(f, exp + EXP_FLAGS) >> 4) & 0xf;
		if (port_type_names[type])
			printf(", \"pcie_type\": \"%s\"", port_type_names[type]);
		else
			printf(", \"pcie_type\": \"0x%x\"", type);
	} else {
		fputs(", \"pcie_type\": null", stdout);
	}
	const unsigned acs = caps_known ? find_acs_cap(f) : 0;
	if (acs)
		printf(", \"acs\": {\"cap\": \"0x%04x\", \"ctl\": \"0x%04x\"}", cfg16(f, acs + ACS_CAP),
		       cfg16(f, acs + ACS_CTRL));
	else
		fputs(", \"acs\": null", stdout);

	fputs(", \"driver\": ", stdout);
	if (link_name(dir, "driver", buf, sizeof(buf)) == 0)
		json_print_string(stdout, buf, strlen(buf));
	else
		fputs("null", stdout);
	int rc = link_name(dir, "iommu_group", buf, sizeof(buf));
	char *end = NULL;
	long group = rc == 0 ? strtol(buf, &end, 10) : -1;
	if (rc == 0 && (!buf[0] || *end)) {
		warn("%s: iommu_group links to '%s', not a group number", f->bdf, buf);
		group = -1;
	}
	if (group >= 0)
		printf(", \"iommu_group\": %ld}", group);
	else
		fputs(", \"iommu_group\": null}", stdout);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Directory entries that do not start with '.', sorted; NULL (and a warning) when unreadable. */
static char **list_dir(const char *path, size_t *n, int quiet_enoent)
{
	*n = 0;
	DIR *d = opendir(path);
	if (!d) {
		if (!(quiet_enoent && errno == ENOENT))
			warn("cannot read %s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 16;
	char **names = malloc(cap * sizeof(*names));
	struct dirent *e;
	while (names && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (*n == cap) {
			cap *= 2;
			char **grown = realloc(names, cap * sizeof(*names));
			if (!grown)
				break;
			names = grown;
		}
		names[(*n)++] = strdup(e->d_name);
	}
	closedir(d);
	if (names)
		qsort(names, *n, sizeof(*names), cmp_str);
	return names;
}

static void free_list(char **names, size_t n)
{
	for (size_t i = 0; names && i < n; ++i)
		free(names[i]);
	free(names);
}

static int cmp_group(const void *a, const void *b)
{
	const long x = strtol(*(char *const *)a, NULL, 10), y = strtol(*(char *const *)b, NULL, 10);
	return x < y ? -1 : x > y;
}

static void print_groups(const char *root)
{
	char base[PATH_MAX], group[PATH_MAX], devices[PATH_MAX];
	size_t n = 0;
	char **groups = NULL;
	/* No such directory: the kernel runs without an IOMMU, so there are no groups. */
	if (join(base, sizeof(base), root, "sys/kernel/iommu_groups") == 0)
		groups = list_dir(base, &n, 1);
	if (groups)
		qsort(groups, n, sizeof(*groups), cmp_group);
	fputs("  \"groups\": {", stdout);
	int printed = 0;
	for (size_t i = 0; i < n; ++i) {
		size_t m;
		if (join(group, sizeof(group), base, groups[i]) || join(devices, sizeof(devices), group, "devices"))
			continue;
		char **devs = list_dir(devices, &m, 0);
		printf("%s\n    ", printed++ ? "," : "");
		json_print_string(stdout, groups[i], strlen(groups[i]));
		fputs(": [", stdout);
		for (size_t j = 0; j < m; ++j) {
			fputs(j ? ", " : "", stdout);
			json_print_string(stdout, devs[j], strlen(devs[j]));
		}
		fputc(']', stdout);
		free_list(devs, m);
	}
	fputs(printed ? "\n  }\n" : "}\n", stdout);
	free_list(groups, n);
}

static int facts(const char *root, int members)
{
	char path[PATH_MAX], dir[PATH_MAX];
	size_t n;
	if (join(path, sizeof(path), root, "sys/bus/pci/devices"))
		return 1;
	char **bdfs = list_dir(path, &n, 0);
	if (!bdfs)
		return 1;
	static struct function f;
	if (!members)
		fputs("{\n", stdout);
	fputs("  \"devices\": [\n", stdout);
	int printed = 0;
	for (size_t i = 0; i < n; ++i) {
		if (strlen(bdfs[i]) >= sizeof(f.bdf)) {
			warn("%s/%s: not a PCI function's name", path, bdfs[i]);
			continue;
		}
		if (join(dir, sizeof(dir), path, bdfs[i]))
			continue;
		memcpy(f.bdf, bdfs[i], strlen(bdfs[i]) + 1);
		fputs(printed++ ? ",\n" : "", stdout);
		print_device(dir, &f);
	}
	fputs(printed ? "\n  ],\n" : "  ],\n", stdout);
	print_groups(root);
	if (!members)
		fputs("}\n", stdout);
	free_list(bdfs, n);
	return warnings ? 1 : 0;
}

static int usage(void)
{
	fputs("usage: hostfacts [--root DIR] [--members]\n"
	      "       hostfacts --json-string FILE|-\n"
	      "       hostfacts --json-lines FILE|-\n"
	      "       hostfacts --json-valid FILE|-\n", stderr);
	return 2;
}

int main(int argc, char **argv)
{
	const char *root = "";
	int members = 0;
	for (int i = 1; i < argc; ++i) {
		if (strcmp(argv[i], "--json-string") == 0 && i + 2 == argc)
			return json_string_of_file(argv[i + 1], stdout);
		if (strcmp(argv[i], "--json-lines") == 0 && i + 2 == argc)
			return json_lines_of_file(argv[i + 1], stdout);
		if (strcmp(argv[i], "--json-valid") == 0 && i + 2 == argc)
			return json_validate_file(argv[i + 1]);
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
			root = argv[++i];
			if (strcmp(root, "/") == 0)
				root = "";
		} else if (strcmp(argv[i], "--members") == 0) {
			members = 1;
		} else {
			return usage();
		}
	}
	return facts(root, members);
}
