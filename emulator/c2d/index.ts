// Cloud-to-device messages: the queues and the feedback they produce (docs/protocol.md §11).
export { CloudToDeviceService, type C2dDelivery, type C2dSink, type C2dOutcome } from './c2d-service.js';
export { FeedbackService, type FeedbackSink } from './feedback-service.js';
export {
  ackModes,
  type AckMode,
  type CloudMessage,
  type CloudMessageContent,
  type FeedbackBatch,
  type FeedbackRecord,
  type FeedbackStatus,
  type MessageIdValue,
} from './cloud-message.js';
