//! Where a tensor's storage lives. Only the CPU exists in this build; the GPU backend
//! (wgpu) adds `Gpu(index)` without changing callers, which already match on `Device`.

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum Device {
    #[default]
    Cpu,
}

impl Device {
    pub fn name(self) -> String {
        match self {
            Device::Cpu => "cpu".to_string(),
        }
    }
}
