CREATE TABLE `webhook_failures` (
	`event_id` text PRIMARY KEY NOT NULL,
	`type` text NOT NULL,
	`conversation_id` text NOT NULL,
	`attempts` integer NOT NULL,
	`last_error` text NOT NULL,
	`event` text NOT NULL,
	`failed_at` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_failures_failed_at_idx` ON `webhook_failures` (`failed_at`);