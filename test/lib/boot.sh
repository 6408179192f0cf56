# boot.sh - what the initramfs boot tests (70-initramfs-boot*.t) boot.
#
#   boot_script FILE   write the init script both boots run: load
#                      /images/vmtest.tar, run it (vmtest) and a second
#                      container that exits 7 (vmexit), ps -a -s, poweroff;
#                      MARK-init start/done around it.  It has no "#!" line:
#                      examples/initramfs/build.sh adds "#!/lrun init".
boot_script() {
	cat >"$1" <<'CONF'
# lrun init runs this as PID 1 of the VM
echo MARK-init start
load -q -i /images/vmtest.tar
run --network none --name vmtest localhost/vmtest:latest
run --network none --name vmexit localhost/vmtest:latest sh -c 'exit 7'
ps -a -s
echo MARK-init done
poweroff
CONF
}
