//! OpenAI-compatible client (being built).
use super::*;
pub struct OpenAiProvider {}
impl OpenAiProvider {
    pub fn new(_s: ProviderSettings) -> Result<Self, LlmError> {
        Err(LlmError::InvalidResponse("not built yet".into()))
    }
}
#[async_trait]
impl Provider for OpenAiProvider {
    fn name(&self) -> &str {
        "openai"
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
