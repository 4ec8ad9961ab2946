################################################################################
#
# ojscog-espeak-ng-data
#
################################################################################

# The data the Debian-based image ships (scripts/build-image.sh); its format is espeak-ng 1.51's.
OJSCOG_ESPEAK_NG_DATA_VERSION = 1.51+dfsg-10+deb12u2
OJSCOG_ESPEAK_NG_DATA_SOURCE = espeak-ng-data_$(OJSCOG_ESPEAK_NG_DATA_VERSION)_arm64.deb
OJSCOG_ESPEAK_NG_DATA_SITE = http://deb.debian.org/debian/pool/main/e/espeak-ng
OJSCOG_ESPEAK_NG_DATA_LICENSE = GPL-3.0+

# A .deb is an ar archive holding data.tar.xz (ar is one of Buildroot's host requirements, binutils).
define OJSCOG_ESPEAK_NG_DATA_EXTRACT_CMDS
	cd $(@D) && ar x $(OJSCOG_ESPEAK_NG_DATA_DL_DIR)/$(OJSCOG_ESPEAK_NG_DATA_SOURCE) data.tar.xz
	tar -xJf $(@D)/data.tar.xz -C $(@D) ./usr/lib/aarch64-linux-gnu/espeak-ng-data
endef

define OJSCOG_ESPEAK_NG_DATA_INSTALL_TARGET_CMDS
	mkdir -p $(TARGET_DIR)/usr/lib/aarch64-linux-gnu
	cp -a $(@D)/usr/lib/aarch64-linux-gnu/espeak-ng-data $(TARGET_DIR)/usr/lib/aarch64-linux-gnu/
endef

$(eval $(generic-package))
