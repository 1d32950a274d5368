//! The built-in simulated model (being built).
use crate::llm::*;
pub struct DemoProvider {}
impl DemoProvider {
    pub fn new(_s: &ProviderSettings) -> Self {
        Self {}
    }
}
#[async_trait::async_trait]
impl Provider for DemoProvider {
    fn name(&self) -> &str {
        "demo"
    }
    fn base_url(&self) -> &str {
        ""
    }
    async fn chat(
        &self,
        _req: ChatRequest,
        _sink: DeltaSink<'_>,
    ) -> Result<ChatResponse, LlmError> {
        Err(LlmError::InvalidResponse("not built yet".into()))
    }
}
