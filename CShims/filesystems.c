// SPDX-License-Identifier: Apache-2.0
#define _GNU_SOURCE
#include "cshims.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>

int skiff_is_cgroup2_mount_root(int fd)
{
    struct statfs fs;
    if (fstatfs(fd, &fs) < 0)
        return -1;
    if (fs.f_type != CGROUP2_SUPER_MAGIC)
        return 0;
    struct statx st;
    if (statx(fd, "", AT_EMPTY_PATH, 0, &st) < 0)
        return -1;
    /* A kernel before 5.8 does not say (the attribute is not in the mask): not known to be. */
    if (!(st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
        return 0;
    return (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}
