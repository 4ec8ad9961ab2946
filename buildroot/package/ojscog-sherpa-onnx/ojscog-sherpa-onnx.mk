################################################################################
#
# ojscog-sherpa-onnx
#
################################################################################

# Keep in step with scripts/native-libs.sh and patches/sherpa-rs-sys/build.rs.
OJSCOG_SHERPA_ONNX_VERSION = 1.12.10
OJSCOG_SHERPA_ONNX_SOURCE = sherpa_onnx_core-$(OJSCOG_SHERPA_ONNX_VERSION)-py3-none-manylinux2014_aarch64.whl
# PyPI's stable per-file path: packages/<python tag>/<first letter>/<project>/<file>.
OJSCOG_SHERPA_ONNX_SITE = https://files.pythonhosted.org/packages/py3/s/sherpa-onnx-core
OJSCOG_SHERPA_ONNX_LICENSE = Apache-2.0
OJSCOG_SHERPA_ONNX_DEPENDENCIES = host-python3

# A wheel is a zip: its sherpa_onnx/{lib,include} is what ojscog's sherpa-rs-sys reads (SHERPA_LIB_PATH, set by the
# ojscog package to $(OJSCOG_SHERPA_ONNX_DIR)/sherpa_onnx) to make its bindings and link.
define OJSCOG_SHERPA_ONNX_EXTRACT_CMDS
	$(HOST_DIR)/bin/python3 -c 'import sys, zipfile; \
		z = zipfile.ZipFile(sys.argv[1]); \
		[z.extract(n, sys.argv[2]) for n in z.namelist() \
		 if n.startswith(("sherpa_onnx/lib/", "sherpa_onnx/include/"))]' \
		$(OJSCOG_SHERPA_ONNX_DL_DIR)/$(OJSCOG_SHERPA_ONNX_SOURCE) $(@D)
endef

# The binary's rpath names /usr/lib/ojscog/sherpa; the C API's own rpath ($ORIGIN) finds its ONNX Runtime there.
define OJSCOG_SHERPA_ONNX_INSTALL_TARGET_CMDS
	$(INSTALL) -D -m 0755 $(@D)/sherpa_onnx/lib/libsherpa-onnx-c-api.so \
		$(TARGET_DIR)/usr/lib/ojscog/sherpa/libsherpa-onnx-c-api.so
	$(INSTALL) -D -m 0755 $(@D)/sherpa_onnx/lib/libonnxruntime.so \
		$(TARGET_DIR)/usr/lib/ojscog/sherpa/libonnxruntime.so
endef

$(eval $(generic-package))
