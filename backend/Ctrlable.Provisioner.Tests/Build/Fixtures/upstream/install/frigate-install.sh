#!/usr/bin/env bash
# Test fixture (see ../README.md): shaped like install/frigate-install.sh at community-scripts 2026-05-30: Debian 12
# only, Frigate pinned to v0.17.1, but go2rtc "latest" and libusb v1.0.26 fetched too (var_appversion would
# replace all three versions).
# shellcheck disable=SC1091,SC2154
source /dev/stdin <<<"$FUNCTIONS_FILE_PATH"
color
verb_ip6
catch_errors
setting_up_container
network_check
update_os

source "$ROOT/etc/os-release"
if [[ "$VERSION_ID" != "12" ]]; then
  msg_error "Frigate requires Debian 12 (Bookworm) due to Python 3.11 dependencies"
  exit 238
fi

msg_info "Installing Dependencies"
msg_ok "Installed Dependencies"

setup_hwaccel

fetch_and_deploy_gh_release "frigate" "blakeblackshear/frigate" "tarball" "v0.17.1" "/opt/frigate"

fetch_and_deploy_gh_release "go2rtc" "AlexxIT/go2rtc" "singlefile" "latest" "/usr/local/go2rtc/bin" "go2rtc_linux_amd64"

msg_info "Building libUSB"
fetch_and_deploy_gh_release "libusb" "libusb/libusb" "tarball" "v1.0.26" "/opt/libusb"
msg_ok "Built libUSB"

NODE_VERSION="20" setup_nodejs

msg_info "Downloading Inference Models"
curl_download "/models/cpu_model.tflite" "https://github.com/google-coral/test_data/raw/release-frogfish/ssdlite_mobiledet_coco_qat_postprocess.tflite"
msg_ok "Downloaded Inference Models"

msg_info "Configuring Frigate"
mkdir -p "$ROOT/config" "$ROOT/media/frigate"
printf 'mqtt:\n  enabled: false\n' >"$ROOT/config/config.yml"
msg_ok "Configured Frigate"

msg_info "Cleaning Up"
rm -rf "$ROOT/opt/libusb"
msg_ok "Cleaned Up"

motd_ssh
customize
cleanup_lxc
