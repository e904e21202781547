import { notificationV1 } from '@bank/contracts';
import { DomainError, isOperator, isUuid } from '@bank/kernel';
import { implement, parseTimeIdCursor, timeIdCursor, type Database, type Logger, type ServiceBinding } from '@bank/platform';
import { LOG_MAX_PAGE } from './notifications';

const DEFAULT_PAGE = 20;

/** The notification log over gRPC: what was sent to whom and how it went; a user's own, or anyone's for operators. */
export function notificationGrpcService(db: Database, opts: { serviceToken: string; logger: Logger }): ServiceBinding {
  return implement(
    notificationV1.NotificationServiceService,
    {
      listNotifications: async (req, ctx) => {
        const caller = { userId: ctx.callerUserId, roles: ctx.callerRoles };
        const userId = req.userId === '' ? caller.userId : req.userId;
        if (!userId || !isUuid(userId)) throw new DomainError('VALIDATION_FAILED', 'userId must be a UUID', { fields: [{ field: 'userId', message: 'must be a UUID' }] });
        if (userId !== caller.userId && !isOperator(caller)) throw new DomainError('NOT_FOUND', 'no such user');
        const limit = req.limit === 0 ? DEFAULT_PAGE : Math.min(req.limit, LOG_MAX_PAGE);
        const cursor = parseTimeIdCursor(req.cursor);
        const { rows } = await db.sql.query<{ id: string; user_id: string; template: string; status: string; event_id: string; created_at: Date | string }>(
          `SELECT id, user_id, template, status, event_id, created_at FROM deliveries
            WHERE user_id = $1 AND ($2::bigint IS NULL OR (created_at, id) < (to_timestamp($2::bigint / 1000.0), $3::uuid))
            ORDER BY created_at DESC, id DESC LIMIT $4`,
          [userId.toLowerCase(), cursor?.createdAt.getTime() ?? null, cursor?.id ?? null, limit + 1],
        );
        const page = rows.slice(0, limit);
        const last = page[page.length - 1];
        return {
          notifications: page.map((r) => ({ id: r.id, userId: r.user_id, channel: 'email', template: r.template, status: r.status, eventId: r.event_id, createdAt: new Date(r.created_at) })),
          // MikroORM's pg connection hands timestamps out as text.
          nextCursor: rows.length > limit && last ? timeIdCursor(new Date(last.created_at), last.id) : '',
        };
      },
    },
    opts,
  );
}
